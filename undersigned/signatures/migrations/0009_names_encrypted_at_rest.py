"""Public signers' names, affiliations and comments are encrypted at rest (``lib.vault``).
The data step locks what is there, in chunks; backwards unlocks it."""

import undersigned.db.fields
from django.db import migrations

from undersigned.lib import vault

FIELDS = ("name", "affiliation", "comment")


def _rewrite(schema_editor, change):
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT id, {', '.join(map(quote, FIELDS))} FROM signatures_signature "
                "WHERE id > %s ORDER BY id LIMIT 2000",
                [last],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            for pk, *values in rows:
                new = [change(value or "") for value in values]
                if new != [value or "" for value in values]:
                    assigned = ", ".join(f"{quote(f)} = %s" for f in FIELDS)
                    cursor.execute(
                        f"UPDATE signatures_signature SET {assigned} WHERE id = %s", [*new, pk]
                    )
            last = rows[-1][0]


def recreate_trigger(apps, schema_editor):
    """SQLite rebuilds the table to change a column, and drops its triggers with it."""
    if schema_editor.connection.vendor == "sqlite":
        from importlib import import_module

        held = import_module("undersigned.signatures.migrations.0008_held_and_tallies")
        schema_editor.execute("DROP TRIGGER IF EXISTS signature_confirmed_counted")
        schema_editor.execute(held.SQLITE)


def lock(apps, schema_editor):
    _rewrite(schema_editor, lambda v: v if v.startswith(vault.PREFIX) else vault.lock(v))


def unlock(apps, schema_editor):
    _rewrite(schema_editor, vault.unlock)


class Migration(migrations.Migration):

    dependencies = [
        ('signatures', '0008_held_and_tallies'),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, recreate_trigger),
        migrations.AlterField(
            model_name='signature',
            name='affiliation',
            field=undersigned.db.fields.VaultedTextField(blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name='signature',
            name='comment',
            field=undersigned.db.fields.VaultedTextField(blank=True, max_length=1000),
        ),
        migrations.AlterField(
            model_name='signature',
            name='name',
            field=undersigned.db.fields.VaultedTextField(blank=True, max_length=200),
        ),
        migrations.RunPython(recreate_trigger, migrations.RunPython.noop),
        migrations.RunPython(lock, unlock),
    ]

"""The display choice `threshold` ("show my name once N have signed"): a signature keeps its
N (``public_after``) and, until the count reaches it, its name sealed to the letter's threshold
key (``threshold_sealed``). The confirm trigger journals such a signature as hidden (made
anew: SQLite rebuilds a table to add some columns, and its triggers go with it)."""

from importlib import import_module

from django.db import migrations, models

VERSIONS = "undersigned.signatures.migrations.0012_versions_signed"
HELD = "undersigned.signatures.migrations.0008_held_and_tallies"
HIDDEN = "NEW.display = 'hidden'"
WITHHELD = "NEW.display IN ('hidden', 'threshold')"  # ``Signature.WITHHELD``


def _create(schema_editor, withheld: str) -> None:
    versions = import_module(VERSIONS)
    postgres = schema_editor.connection.vendor == "postgresql"
    sql = versions.POSTGRES if postgres else versions.SQLITE
    assert HIDDEN in sql
    schema_editor.execute(sql.replace(HIDDEN, withheld))


def drop(apps, schema_editor):
    import_module(HELD)._drop(schema_editor)


def create_new(apps, schema_editor):
    _create(schema_editor, WITHHELD)


def create_old(apps, schema_editor):
    _create(schema_editor, HIDDEN)


class Migration(migrations.Migration):

    dependencies = [
        ('signatures', '0013_forge_identity'),
    ]

    operations = [
        migrations.RunPython(drop, create_old),
        migrations.AddField(
            model_name='signature',
            name='public_after',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='signature',
            name='threshold_sealed',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='signature',
            name='display',
            field=models.CharField(choices=[('public', 'Show my name and affiliation'), ('hidden', 'Hide my name: show only that a signer (verified, if so) signed'), ('count', 'Only count me: do not list me at all'), ('threshold', 'Hide my name until enough people have signed, then show it')], default='public', max_length=16),
        ),
        migrations.AddIndex(
            model_name='signature',
            index=models.Index(condition=models.Q(('threshold_sealed__isnull', False)), fields=['letter', 'public_after'], name='signature_waiting'),
        ),
        migrations.RunPython(create_new, drop),
    ]

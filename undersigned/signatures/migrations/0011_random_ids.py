"""Random primary keys for signatures, receipts and pending changes: sequential ones gave
the order in which people signed, which matched the order of their mails. Rows made before
keep their numbers. SQLite rebuilds the signatures table, and the trigger must be made
again (as in 0009)."""

import undersigned.signatures.models
from django.db import migrations, models


def recreate_trigger(apps, schema_editor):
    from importlib import import_module

    import_module(
        "undersigned.signatures.migrations.0009_names_encrypted_at_rest"
    ).recreate_trigger(apps, schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('signatures', '0010_intake_encrypted_at_rest'),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, recreate_trigger),
        migrations.AlterField(
            model_name='pendingchange',
            name='id',
            field=models.BigIntegerField(default=undersigned.signatures.models.random_id, editable=False, primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name='receipt',
            name='id',
            field=models.BigIntegerField(default=undersigned.signatures.models.random_id, editable=False, primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name='signature',
            name='id',
            field=models.BigIntegerField(default=undersigned.signatures.models.random_id, editable=False, primary_key=True, serialize=False),
        ),
        migrations.RunPython(recreate_trigger, migrations.RunPython.noop),
    ]

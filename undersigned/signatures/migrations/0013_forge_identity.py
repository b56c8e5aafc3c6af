"""Signing as a code-forge account: the challenges, and what a signature keeps of the proof.
The confirm trigger is made anew around the change: SQLite rebuilds the signatures' table to
add a constraint, which drops the table's triggers."""

from importlib import import_module

import undersigned.db.fields
import undersigned.signatures.models
from django.db import migrations, models


VERSIONS = "undersigned.signatures.migrations.0012_versions_signed"


def drop(apps, schema_editor):
    import_module(VERSIONS).drop(apps, schema_editor)


def create(apps, schema_editor):
    import_module(VERSIONS).create_new(apps, schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('letters', '0009_goal_organized_by_milestones'),
        ('moderation', '0005_held_not_dropped'),
        ('signatures', '0012_versions_signed'),
    ]

    operations = [
        migrations.RunPython(drop, create),
        migrations.CreateModel(
            name='ForgeChallenge',
            fields=[
                ('id', models.BigIntegerField(default=undersigned.signatures.models.random_id, editable=False, primary_key=True, serialize=False)),
                ('nonce_hash', models.CharField(max_length=64, unique=True)),
                ('subject_hash', models.CharField(max_length=64)),
                ('expires_at', models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.AddField(
            model_name='signature',
            name='forge',
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.AddField(
            model_name='signature',
            name='forge_checked_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='signature',
            name='forge_fingerprint',
            field=undersigned.db.fields.VaultedTextField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name='signature',
            name='forge_hash',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='signature',
            name='forge_username',
            field=undersigned.db.fields.VaultedTextField(blank=True, max_length=100),
        ),
        migrations.AddConstraint(
            model_name='signature',
            constraint=models.UniqueConstraint(condition=models.Q(('forge_hash__isnull', False)), fields=('letter', 'forge_hash'), name='one_signature_per_forge_account_per_letter'),
        ),
        migrations.RunPython(create, drop),
    ]

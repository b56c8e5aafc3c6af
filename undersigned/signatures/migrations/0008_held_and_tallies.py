"""Held signatures and tallies.

A signature that an abuse check flags is *held*, not dropped: it is counted in the letter's
``held_count`` (and per reason), and released or invalidated by people. The count journal's
rows now say which group (department, hidden or not, held reason) they change, so that the
counter keeps tallies per group (``Tally``), and the confirm trigger journals a held
confirmation as held. Later submissions for a pending address wait as ``PendingChange``s.

The data step folds the journal as it was, then computes the held counts and the tallies
from the signatures. Reversible (the tallies and the held counts are dropped)."""

import django.db.models.deletion
from django.db import migrations, models

# Counted: not flagged, not invalidated (``signatures.models.COUNTED``); held: flagged.
SQLITE = """
CREATE TRIGGER signature_confirmed_counted
AFTER UPDATE OF status ON signatures_signature
FOR EACH ROW
WHEN OLD.status = 'pending' AND NEW.status = 'confirmed' AND NEW.invalidation_id IS NULL
BEGIN
    INSERT INTO signatures_countdelta
        (letter_id, signatures, verified, held, flag, department, hidden)
    VALUES (
        NEW.letter_id,
        NEW.flag = '',
        NEW.flag = '' AND NEW.verified_domain <> '',
        NEW.flag <> '',
        NEW.flag,
        NEW.department,
        NEW.display = 'hidden'
    );
END
"""

POSTGRES = """
CREATE FUNCTION signature_confirmed_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO signatures_countdelta
        (letter_id, signatures, verified, held, flag, department, hidden)
    VALUES (
        NEW.letter_id,
        CASE WHEN NEW.flag = '' THEN 1 ELSE 0 END,
        CASE WHEN NEW.flag = '' AND NEW.verified_domain <> '' THEN 1 ELSE 0 END,
        CASE WHEN NEW.flag <> '' THEN 1 ELSE 0 END,
        NEW.flag,
        NEW.department,
        NEW.display = 'hidden'
    );
    RETURN NULL;
END
$$;
CREATE TRIGGER signature_confirmed_counted
AFTER UPDATE OF status ON signatures_signature
FOR EACH ROW
WHEN (OLD.status = 'pending' AND NEW.status = 'confirmed' AND NEW.invalidation_id IS NULL)
EXECUTE FUNCTION signature_confirmed_counted();
"""

OLD_SQLITE = """
CREATE TRIGGER signature_confirmed_counted
AFTER UPDATE OF status ON signatures_signature
FOR EACH ROW
WHEN OLD.status = 'pending' AND NEW.status = 'confirmed'
     AND NEW.flag = '' AND NEW.invalidation_id IS NULL
BEGIN
    INSERT INTO signatures_countdelta (letter_id, signatures, verified)
    VALUES (NEW.letter_id, 1, NEW.verified_domain <> '');
END
"""

OLD_POSTGRES = """
CREATE FUNCTION signature_confirmed_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO signatures_countdelta (letter_id, signatures, verified)
    VALUES (NEW.letter_id, 1, CASE WHEN NEW.verified_domain <> '' THEN 1 ELSE 0 END);
    RETURN NULL;
END
$$;
CREATE TRIGGER signature_confirmed_counted
AFTER UPDATE OF status ON signatures_signature
FOR EACH ROW
WHEN (OLD.status = 'pending' AND NEW.status = 'confirmed'
      AND NEW.flag = '' AND NEW.invalidation_id IS NULL)
EXECUTE FUNCTION signature_confirmed_counted();
"""

COUNTED = "status = 'confirmed' AND invalidation_id IS NULL AND flag = ''"
HELD = "status = 'confirmed' AND invalidation_id IS NULL AND flag <> ''"


def _drop(schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    schema_editor.execute(
        "DROP TRIGGER signature_confirmed_counted"
        + (" ON signatures_signature; DROP FUNCTION signature_confirmed_counted()" if postgres else "")
    )


def drop_old(apps, schema_editor):
    # First: SQLite rebuilds the journal's table to add columns, which a trigger that writes
    # to it would stop.
    _drop(schema_editor)


def create_old(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    schema_editor.execute(OLD_POSTGRES if postgres else OLD_SQLITE)


def forwards(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    schema_editor.execute(POSTGRES if postgres else SQLITE)
    run = schema_editor.execute
    # The journal as it was (no groups): folded into the counts first.
    run(
        "UPDATE letters_letter SET "
        "signature_count = signature_count + COALESCE((SELECT SUM(signatures) FROM "
        "signatures_countdelta d WHERE d.letter_id = letters_letter.id), 0), "
        "verified_count = verified_count + COALESCE((SELECT SUM(verified) FROM "
        "signatures_countdelta d WHERE d.letter_id = letters_letter.id), 0)"
    )
    run("DELETE FROM signatures_countdelta")
    run(
        "UPDATE letters_letter SET held_count = (SELECT COUNT(*) FROM signatures_signature s "
        f"WHERE s.letter_id = letters_letter.id AND {HELD})"
    )
    for dimension, key, where in [
        ("department", "department", COUNTED),
        ("hidden-department", "department", f"{COUNTED} AND display = 'hidden'"),
        ("held", "flag", HELD),
    ]:
        run(
            'INSERT INTO signatures_tally (letter_id, dimension, "key", signatures) '
            f"SELECT letter_id, '{dimension}', {key}, COUNT(*) FROM signatures_signature "
            f"WHERE {where} GROUP BY letter_id, {key}"
        )


def backwards(apps, schema_editor):
    _drop(schema_editor)
    # Journal rows of held signatures would count them once the old counter folds them.
    schema_editor.execute("DELETE FROM signatures_countdelta WHERE signatures = 0")


class Migration(migrations.Migration):

    dependencies = [
        ('letters', '0004_held_count'),
        ('signatures', '0007_expiry_index_without_status'),
    ]

    operations = [
        migrations.RunPython(drop_old, create_old),
        migrations.AddField(
            model_name='countdelta',
            name='department',
            field=models.CharField(blank=True, db_default='', max_length=100),
        ),
        migrations.AddField(
            model_name='countdelta',
            name='flag',
            field=models.CharField(blank=True, db_default='', max_length=20),
        ),
        migrations.AddField(
            model_name='countdelta',
            name='held',
            field=models.IntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name='countdelta',
            name='hidden',
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.CreateModel(
            name='PendingChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token_hash', models.CharField(max_length=64, unique=True)),
                ('token_expires_at', models.DateTimeField()),
                ('details', models.TextField()),
                ('signature', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='changes', to='signatures.signature')),
            ],
            options={
                'indexes': [models.Index(fields=['token_expires_at'], name='change_expiry')],
            },
        ),
        migrations.CreateModel(
            name='Tally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('dimension', models.CharField(choices=[('department', 'department'), ('hidden-department', 'department of hidden signers'), ('held', 'held, by reason')], max_length=20)),
                ('key', models.CharField(blank=True, max_length=100)),
                ('signatures', models.IntegerField(default=0)),
                ('letter', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='letters.letter')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('letter', 'dimension', 'key'), name='one_tally_per_group')],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]

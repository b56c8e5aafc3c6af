"""Each signature keeps the number of the letter's version its signer was shown, and the
journal carries it, so that the counter keeps a tally per version. The trigger journals it
too (made anew: SQLite rebuilds the journal's table to add a column)."""

from importlib import import_module

from django.db import migrations, models

SQLITE = """
CREATE TRIGGER signature_confirmed_counted
AFTER UPDATE OF status ON signatures_signature
FOR EACH ROW
WHEN OLD.status = 'pending' AND NEW.status = 'confirmed' AND NEW.invalidation_id IS NULL
BEGIN
    INSERT INTO signatures_countdelta
        (letter_id, signatures, verified, held, flag, department, hidden, version)
    VALUES (
        NEW.letter_id,
        NEW.flag = '',
        NEW.flag = '' AND NEW.verified_domain <> '',
        NEW.flag <> '',
        NEW.flag,
        NEW.department,
        NEW.display = 'hidden',
        NEW.version
    );
END
"""

POSTGRES = """
CREATE FUNCTION signature_confirmed_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO signatures_countdelta
        (letter_id, signatures, verified, held, flag, department, hidden, version)
    VALUES (
        NEW.letter_id,
        CASE WHEN NEW.flag = '' THEN 1 ELSE 0 END,
        CASE WHEN NEW.flag = '' AND NEW.verified_domain <> '' THEN 1 ELSE 0 END,
        CASE WHEN NEW.flag <> '' THEN 1 ELSE 0 END,
        NEW.flag,
        NEW.department,
        NEW.display = 'hidden',
        NEW.version
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

HELD = "undersigned.signatures.migrations.0008_held_and_tallies"


def drop(apps, schema_editor):
    import_module(HELD)._drop(schema_editor)


def create_new(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    schema_editor.execute(POSTGRES if postgres else SQLITE)


def create_old(apps, schema_editor):
    held = import_module(HELD)
    postgres = schema_editor.connection.vendor == "postgresql"
    schema_editor.execute(held.POSTGRES if postgres else held.SQLITE)


class Migration(migrations.Migration):

    dependencies = [
        ('signatures', '0011_random_ids'),
    ]

    operations = [
        migrations.RunPython(drop, create_old),
        migrations.AddField(
            model_name='countdelta',
            name='version',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='signature',
            name='version',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='tally',
            name='dimension',
            field=models.CharField(choices=[('department', 'department'), ('hidden-department', 'department of hidden signers'), ('held', 'held, by reason'), ('version', 'the version of the text signed')], max_length=20),
        ),
        migrations.RunPython(create_new, drop),
    ]

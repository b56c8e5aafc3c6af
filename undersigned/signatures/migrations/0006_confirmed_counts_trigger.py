"""A trigger appends the count journal's row when a counted signature turns confirmed, so that
confirming is a single UPDATE (see ``SignatureQuerySet.confirm_pending``): the database does
in the same statement what the application did in a second one."""

from django.db import migrations

# Counted: not flagged by the abuse checks, not invalidated (``signatures.models.COUNTED``).
SQLITE = """
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

POSTGRES = """
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


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(POSTGRES if vendor == "postgresql" else SQLITE)


def drop(apps, schema_editor):
    schema_editor.execute("DROP TRIGGER signature_confirmed_counted" + (
        " ON signatures_signature; DROP FUNCTION signature_confirmed_counted()"
        if schema_editor.connection.vendor == "postgresql"
        else ""
    ))


class Migration(migrations.Migration):
    dependencies = [("signatures", "0005_intake")]

    operations = [migrations.RunPython(create, drop)]

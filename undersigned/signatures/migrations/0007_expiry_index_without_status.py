"""Confirming as an update in place on PostgreSQL (a HOT update): the expiry index loses
`status`, so confirming changes no indexed column; and each page of signatures keeps a fifth
free (fillfactor), so that the confirmed version of a row fits beside the pending one. The
rows written before this keep their pages full until they are next rewritten."""

from django.db import migrations, models

FILLFACTOR = 80


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE signatures_signature SET (fillfactor = {FILLFACTOR})"
        )


def fill_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE signatures_signature RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("letters", "0003_letter_pause_message_letter_signing_paused"),
        ("moderation", "0001_initial"),
        ("signatures", "0006_confirmed_counts_trigger"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="signature", name="signature_expiry"),
        migrations.AddIndex(
            model_name="signature",
            index=models.Index(
                condition=models.Q(("token_expires_at__isnull", False)),
                fields=["token_expires_at"],
                name="signature_expiry",
            ),
        ),
        migrations.RunPython(leave_room, fill_pages),
    ]

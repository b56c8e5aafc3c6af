"""The audit entries were copied into events (events 0002); the table goes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("moderation", "0003_trend"), ("events", "0002_from_audit_entries")]

    operations = [migrations.DeleteModel(name="AuditEntry")]

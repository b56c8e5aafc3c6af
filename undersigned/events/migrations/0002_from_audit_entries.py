"""The operators' audit log (``moderation.AuditEntry``) becomes events. Each action maps to a
kind; data that an event may not hold is left behind (an invalidation's criteria stay on the
invalidation; a trend alert's key stays on the trend row). Reversible."""

from django.db import migrations

# action -> (kind for a letter, kind without a letter, audience)
KINDS = {
    "letter-add": ("letter.created", None, "organizers"),
    "letter-change": ("letter.edited", None, "organizers"),
    "close": ("letter.closed", None, "public"),
    "pause": ("letter.paused", "instance.paused", None),
    "resume": ("letter.resumed", "instance.resumed", None),
    "policy": (None, "policy.changed", "operators"),
    "invalidate": ("signatures.invalidated", None, "public"),
    "undo-invalidation": ("signatures.restored", None, "public"),
    "trend-alert": ("trend.alert", None, "operators"),
}
AUDIENCES = {
    "letter.paused": "organizers",
    "letter.resumed": "organizers",
    "instance.paused": "operators",
    "instance.resumed": "operators",
}
DATA = {  # the detail keys each kind keeps, renamed
    "letter.edited": {"changed": "fields"},
    "policy.changed": {"changed": "fields"},
    "signatures.invalidated": {"invalidation": "invalidation", "count": "count", "reason": "reason"},
    "signatures.restored": {"invalidation": "invalidation", "count": "count"},
    "trend.alert": {"field": "field", "count": "count", "hour": "hour"},
}
VIA = {"command line": "command"}


def forwards(apps, schema_editor):
    AuditEntry = apps.get_model("moderation", "AuditEntry")
    Event = apps.get_model("events", "Event")
    events = []
    for entry in AuditEntry.objects.order_by("id").iterator():
        with_letter, without_letter, audience = KINDS.get(entry.action, (None, None, None))
        kind = (with_letter if entry.letter_id else without_letter) or with_letter or without_letter
        if kind is None:
            continue
        detail = entry.detail or {}
        data = {new: detail[old] for old, new in DATA.get(kind, {}).items() if old in detail}
        at = entry.created_at
        if kind == "trend.alert":  # recorded by the worker: to the hour
            at = at.replace(minute=0, second=0, microsecond=0)
        events.append(
            Event(
                letter_id=entry.letter_id,
                kind=kind,
                audience=audience or AUDIENCES[kind],
                actor_id=entry.actor_id,
                via=VIA.get(detail.get("via"), "worker" if kind == "trend.alert" else "admin"),
                data=data,
                at=at,
                fanned_out=True,
            )
        )
    Event.objects.bulk_create(events, batch_size=500)


def backwards(apps, schema_editor):
    AuditEntry = apps.get_model("moderation", "AuditEntry")
    Event = apps.get_model("events", "Event")
    actions = {}
    for action, (with_letter, without_letter, _) in KINDS.items():
        for kind in (with_letter, without_letter):
            if kind:
                actions[kind] = action
    entries = []
    for event in Event.objects.filter(kind__in=actions).order_by("id").iterator():
        renamed = {new: old for old, new in DATA.get(event.kind, {}).items()}
        detail = {renamed.get(key, key): value for key, value in event.data.items()}
        if event.via == "command":
            detail["via"] = "command line"
        entries.append(
            AuditEntry(
                actor_id=event.actor_id,
                action=actions[event.kind],
                letter_id=event.letter_id,
                detail=detail,
                created_at=event.at,
            )
        )
    AuditEntry.objects.bulk_create(entries, batch_size=500)
    Event.objects.filter(kind__in=actions).delete()


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial"), ("moderation", "0003_trend")]

    operations = [migrations.RunPython(forwards, backwards)]

"""Database chores for bench/run.py, run inside the instance by ``undersigned shell``:

    undersigned shell -c "import runpy, sys; sys.argv = [...]; runpy.run_path(...)"

(``bench.run.db_task`` builds that line.) Each task prints one JSON line last.

- ``load SLUG N``: add N confirmed public signatures to the letter with one INSERT ... SELECT
  over a generated series (PostgreSQL's generate_series, SQLite's recursive CTE), then
  recompute the counts (``reconcile``) and, on PostgreSQL, VACUUM ANALYZE the table (which
  autovacuum would do on its own a little later, likely in the middle of a measurement).
- ``pending SLUG N FILE TAG``: add N pending signatures with fresh confirmation tokens (only
  their hashes go in the database, as signing does) and write the tokens to FILE, one a line;
  VACUUM ANALYZE on PostgreSQL, as above.
- ``rows SLUG``: the letter's confirmed and pending signatures, its count, the journal and
  the outbox.
- ``outbox N``: leave exactly N queued mails in the outbox (the confirmation mails that the
  signing load queued; copies of them if there are fewer), fold the count journal away
  (``reconcile``), so that a worker started next does nothing but send those N.
- ``poll SLUG SECONDS``: print "time count" lines for the letter row every 20 ms.
- ``organizations``: the worker's count of affiliations (``signatures.affiliations``) over
  every letter, step by step as the worker runs it, timing each step: the longest step is
  how long it can hold up the worker's other jobs.

The columns of the bulk inserts come from the model, so a field added later gets its default.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from django.db import connection, transaction

from undersigned.letters.models import Letter
from undersigned.lib.times import this_hour
from undersigned.lib.tokens import new_token, token_hash
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures import counting, services
from undersigned.signatures.models import CountDelta, Intake, Signature

MASK_62 = 2**62 - 1

# SQL for the columns that the benchmark chooses; ``n`` is the row number, ``t`` the token's
# hash (pending rows only). Every other column gets its field's default, as a parameter
# (so a literal % is written %%).
# Names and affiliations are encrypted at rest (lib/vault.py): the rows get real ciphertexts,
# made once for NAMES distinct names, so that reading them costs what it costs in production.
NAMES = 1000
NAMES_TABLE = "bench_names"
LOCKED = {  # noqa: S608  (constants)
    column: f"(SELECT {column} FROM {NAMES_TABLE} WHERE k = n %% {NAMES})"  # noqa: S608
    for column in ("name", "affiliation")
}
SQLITE = {
    **LOCKED,
    "department": "'Department ' || (n %% 20)",
    "id": f"((random() & {MASK_62}) + 1)",
    "order_key": f"(random() & {MASK_62})",
    "email_hash": "{tag} || substr('" + "0" * 56 + "' || n, -56, 56)",
}
POSTGRES = {
    **LOCKED,
    "department": "'Department ' || (n %% 20)",
    "id": f"(floor(random() * {MASK_62})::bigint + 1)",
    "order_key": f"floor(random() * {MASK_62})::bigint",
    "email_hash": "{tag} || lpad(n::text, 56, '0')",
}


def names_table(cursor) -> None:
    """The table of encrypted names that ``insert_sql`` reads; made once per database."""
    from undersigned.lib import vault

    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {NAMES_TABLE} "
        "(k INTEGER PRIMARY KEY, name TEXT NOT NULL, affiliation TEXT NOT NULL)"
    )
    cursor.execute(f"SELECT COUNT(*) FROM {NAMES_TABLE}")  # noqa: S608
    if cursor.fetchone()[0] == NAMES:
        return
    rows = [
        (k, vault.lock(f"Signer {k}"), vault.lock(f"Organization {k % 997}")) for k in range(NAMES)
    ]
    cursor.executemany(f"INSERT INTO {NAMES_TABLE} VALUES (%s, %s, %s)", rows)  # noqa: S608


def insert_sql(letter: Letter, status: str, tag: str, source: str) -> tuple[str, list]:
    """INSERT INTO signatures (...) SELECT <expressions> FROM <source>; ``source`` yields
    columns ``n`` (and ``t`` for pending rows)."""
    sql_for = POSTGRES if connection.vendor == "postgresql" else SQLITE
    confirmed = status == Signature.Status.CONFIRMED
    chosen = {
        "letter": ("%s", [letter.pk]),
        "status": ("%s", [status]),
        "display": ("%s", [Signature.Display.PUBLIC]),
        "sealed": ("NULL", []),
        "token_hash": ("NULL" if confirmed else "t", []),
        "token_expires_at": ("NULL", []) if confirmed else ("%s", [Signature.new_expiry()]),
        "confirmed_at": ("%s", [this_hour()]) if confirmed else ("NULL", []),
        "email_hash": (sql_for["email_hash"].format(tag="%s"), [tag]),
        **{name: (sql_for[name], []) for name in ("name", "affiliation", "department")},
        "order_key": (sql_for["order_key"], []),
        "id": (sql_for["id"], []),
    }
    columns, expressions, params = [], [], []
    for field in Signature._meta.concrete_fields:
        expression, values = chosen.get(field.name, ("%s", [field.get_default()]))
        columns.append(connection.ops.quote_name(field.column))
        expressions.append(expression)
        params.extend(field.get_db_prep_save(value, connection) for value in values)
    table = connection.ops.quote_name(Signature._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(expressions)} {source}"
    return sql, params


def load(slug: str, n: int) -> dict:
    letter = Letter.objects.get(slug=slug)
    started = time.monotonic()
    if connection.vendor == "postgresql":
        source = "FROM generate_series(1, %s) AS s(n)"
    else:
        source = (
            "FROM (WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %s) "
            "SELECT n FROM s)"
        )
    sql, params = insert_sql(letter, Signature.Status.CONFIRMED, f"bulk{letter.pk}", source)
    with transaction.atomic(), connection.cursor() as cursor:
        names_table(cursor)
        cursor.execute(sql, [*params, n])
    inserted = time.monotonic() - started
    counting.reconcile()
    vacuum()
    letter.refresh_from_db()
    return {
        "rows": n,
        "insert_seconds": inserted,
        "seconds": time.monotonic() - started,
        "signature_count": letter.signature_count,
    }


def pending(slug: str, n: int, path: str, tag: str) -> dict:
    letter = Letter.objects.get(slug=slug)
    tokens = [new_token() for _ in range(n)]
    batch = 500
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        names_table(cursor)
        for start in range(0, n, batch):
            chunk = tokens[start : start + batch]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            if connection.vendor == "postgresql":
                source = f"FROM (VALUES {values}) AS v(n, t)"
            else:  # SQLite names the columns of VALUES column1, column2
                source = f"FROM (SELECT column1 AS n, column2 AS t FROM (VALUES {values}))"  # noqa: S608
            sql, params = insert_sql(letter, Signature.Status.PENDING, tag, source)
            rows = [(start + i, token_hash(token).hex()) for i, token in enumerate(chunk)]
            cursor.execute(sql, params + [value for row in rows for value in row])
    Path(path).write_text("".join(token + "\n" for token in tokens))
    vacuum()
    return {"rows": n, "seconds": time.monotonic() - started}


def vacuum() -> None:
    """On PostgreSQL, what autovacuum does on its own a minute after a bulk insert (so that
    it does not do it in the middle of a measurement): VACUUM ANALYZE the signatures."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(Signature._meta.db_table)}")


def rows(slug: str) -> dict:
    letter = Letter.objects.get(slug=slug)
    signatures = Signature.objects.filter(letter=letter)
    return {
        "confirmed": signatures.confirmed().count(),
        "pending": signatures.pending().count(),
        # Signatures taken in (answered 202): in the intake until a worker records them as
        # pending signatures; no worker runs while signing is measured.
        "taken": signatures.pending().count() + Intake.objects.filter(letter=letter).count(),
        "signature_count": letter.signature_count,
        "journal": CountDelta.objects.count(),
        "outbox_queued": OutgoingEmail.objects.filter(status=OutgoingEmail.Status.QUEUED).count(),
        "outbox_sent": OutgoingEmail.objects.filter(status=OutgoingEmail.Status.SENT).count(),
    }


def outbox(n: int) -> dict:
    queued = OutgoingEmail.objects.filter(status=OutgoingEmail.Status.QUEUED)
    # Signing left its signatures in the intake (no worker ran): record up to N of them, as
    # the worker would, timing it; drop the rest, so the mail figure measures sending alone.
    started, recorded = time.perf_counter(), 0
    while queued.count() < n:
        done = services.record_intake(500)
        if not done:
            break
        recorded += done
    record_seconds = time.perf_counter() - started
    Intake.objects.all().delete()
    with transaction.atomic():
        keep = list(queued.order_by("id").values_list("id", flat=True)[:n])
        if not keep:
            raise SystemExit("no queued mail to copy: run the signing load first")
        queued.filter(id__gt=keep[-1]).delete()
        OutgoingEmail.objects.exclude(status=OutgoingEmail.Status.QUEUED).delete()
        model = OutgoingEmail.objects.get(id=keep[0])
        fields = [f.name for f in OutgoingEmail._meta.concrete_fields if not f.primary_key]
        copies = [
            OutgoingEmail(**{name: getattr(model, name) for name in fields})
            for _ in range(n - len(keep))
        ]
        OutgoingEmail.objects.bulk_create(copies, batch_size=1000)
        CountDelta.objects.all().delete()
    counting.reconcile()
    return {
        "queued": queued.count(),
        "copied": len(copies),
        "recorded": recorded,
        "record_seconds": record_seconds,
    }


def poll(slug: str, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    letter = Letter.objects.filter(slug=slug)
    samples = 0
    while time.monotonic() < deadline:
        count = letter.values_list("signature_count", flat=True).first()
        print(f"{time.time():.4f} {count}", flush=True)
        samples += 1
        time.sleep(0.02)
    return {"samples": samples}


def organizations() -> dict:
    from undersigned.signatures import affiliations

    scan = affiliations.Scan(refresh_seconds=float("inf"))
    steps: list[float] = []
    read = 0
    started = time.perf_counter()
    while True:
        step_started = time.perf_counter()
        done = scan.step()
        if not done:
            break
        steps.append(time.perf_counter() - step_started)
        read += done
    steps.sort()
    return {
        "seconds": time.perf_counter() - started,
        "steps": len(steps),
        "read": read,
        "chunk": affiliations.CHUNK,
        "median_step_ms": 1000 * steps[len(steps) // 2] if steps else None,
        "max_step_ms": 1000 * steps[-1] if steps else None,
    }


def keys(slug: str, n: int) -> dict:
    """``n`` organizers of the letter, each with a sealing key: hidden signers' names are then
    sealed to ``n`` keys, as on a letter with several organizers."""
    from django.contrib.auth import get_user_model

    from undersigned.accounts.models import OrganizerKey
    from undersigned.lib import sealing

    letter = Letter.objects.get(slug=slug)
    for i in range(n):
        user = get_user_model().objects.create_user(f"bench-organizer-{slug}-{i}")
        letter.organizers.add(user)
        OrganizerKey.objects.register(user, sealing.generate_keypair()[1])
    return {"keys": OrganizerKey.objects.for_letter(letter).count()}


def main(argv: list[str]) -> None:
    task, *args = argv
    if task == "keys":
        result = keys(args[0], int(args[1]))
    elif task == "load":
        result = load(args[0], int(args[1]))
    elif task == "pending":
        result = pending(args[0], int(args[1]), args[2], args[3])
    elif task == "rows":
        result = rows(args[0])
    elif task == "outbox":
        result = outbox(int(args[0]))
    elif task == "organizations":
        result = organizations()
    elif task == "poll":
        result = poll(args[0], float(args[1]))
    else:
        raise SystemExit(f"unknown task {task!r}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

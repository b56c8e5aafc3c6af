"""Parse the URLs and values that configure an instance from the environment.

Every parser raises ``ConfigError`` with a message a person can act on; the settings module
collects those errors and the system checks report them before anything serves a request.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


class ConfigError(ValueError):
    pass


def envstr(name: str, default: str = "") -> str:
    """Read NAME, or the contents of the file named by NAME_FILE (for secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from exc
    return os.environ.get(name, default)


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean; use 1/0, true/false, yes/no or on/off")


def envint(name: str, default: int, minimum: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a whole number") from None
    if number < minimum:
        raise ConfigError(f"{name}={number} is below the minimum of {minimum}")
    return number


def parse_database_url(url: str, data_dir: Path) -> dict:
    """``sqlite:///abs/path``, ``sqlite:///relative`` (under the data dir), ``postgres://…``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if parts.netloc:
            raise ConfigError(
                f"DATABASE_URL={url!r}: a SQLite URL has no host; write sqlite:///relative/path "
                "or sqlite:////absolute/path"
            )
        raw = unquote(parts.path)
        if raw.startswith("//"):
            path = Path("/" + raw.lstrip("/"))
        else:
            relative = raw.lstrip("/")
            if not relative:
                raise ConfigError(f"DATABASE_URL={url!r} names no database file")
            path = data_dir / relative
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ConfigError(f"DATABASE_URL={_redact(url)!r} names no database (…/DBNAME)")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"DATABASE_URL={_redact(url)!r} has an invalid port") from None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        host = unquote(parts.hostname or "") or query.pop("host", "")
        # Parameters travel apart from the statement, and a statement run five times on a
        # connection is prepared there: planned once, not on every request (planning was
        # more than half of confirming's time in the database). A pooler that cannot keep
        # prepared statements (PgBouncer in transaction mode before 1.21) needs
        # ?prepare_threshold=none.
        threshold = query.pop("prepare_threshold", "5").strip().lower()
        if threshold not in {"none", ""} and not threshold.isdigit():
            raise ConfigError(
                f"DATABASE_URL={_redact(url)!r}: prepare_threshold={threshold!r} is neither a "
                "whole number nor none"
            )
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": host,
            "PORT": str(port or ""),
            "OPTIONS": {
                **query,
                "server_side_binding": True,
                "prepare_threshold": int(threshold) if threshold.isdigit() else None,
            },
        }
    raise ConfigError(
        f"DATABASE_URL={_redact(url)!r} is not understood; use sqlite:///FILE or "
        "postgres://USER:PASSWORD@HOST:PORT/NAME"
    )


def parse_email_url(url: str) -> dict:
    """``smtp://user:pass@host:port``, ``smtp+tls://`` (STARTTLS), ``smtps://`` (implicit TLS),
    ``console://`` (print mail to the terminal), ``memory://`` (tests)."""
    if not url or url in {"console:", "console://"}:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if url in {"memory:", "memory://", "locmem://"}:
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtp+tls", "smtps"}:
        raise ConfigError(
            f"EMAIL_URL={_redact(url)!r} is not understood; use smtp://HOST:PORT, "
            "smtp+tls://USER:PASSWORD@HOST:587, smtps://…:465 or console://"
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"EMAIL_URL={_redact(url)!r} has an invalid port") from None
    if not parts.hostname:
        raise ConfigError(f"EMAIL_URL={_redact(url)!r} names no host")
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or {"smtp": 25, "smtp+tls": 587, "smtps": 465}[parts.scheme],
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_TIMEOUT": 20,
    }


def parse_cidrs(value: str, name: str) -> list:
    import ipaddress

    networks = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {item!r} is not an IP address or CIDR range") from None
    return networks


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url

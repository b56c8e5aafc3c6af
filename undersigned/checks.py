"""System checks: configuration mistakes surface here, with an id, before anything serves."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.compatibility, deploy=False)
def environment_is_valid(app_configs=None, **kwargs):
    return [
        Error(message, hint="See the Settings table in the README.", id="undersigned.E001")
        for message in getattr(settings, "CONFIG_ERRORS", [])
    ]

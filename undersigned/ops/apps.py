from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "undersigned.ops"
    verbose_name = "Operations"

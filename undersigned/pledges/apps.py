from django.apps import AppConfig


class PledgesConfig(AppConfig):
    name = "undersigned.pledges"
    verbose_name = "pledges"

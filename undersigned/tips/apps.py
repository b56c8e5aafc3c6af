from django.apps import AppConfig


class TipsConfig(AppConfig):
    name = "undersigned.tips"
    verbose_name = "tip line"

from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "undersigned.subscriptions"

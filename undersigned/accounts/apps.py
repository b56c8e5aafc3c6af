from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "undersigned.accounts"

    def ready(self):
        from undersigned.accounts import sessions  # noqa: F401  (connects its signals)

from django.apps import AppConfig


class LettersConfig(AppConfig):
    name = "undersigned.letters"

    def ready(self):
        from undersigned import checks  # noqa: F401  (registers the system checks)

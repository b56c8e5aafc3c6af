from django.contrib import admin

from undersigned.signatures.models import Signature


@admin.register(Signature)
class SignatureAdmin(admin.ModelAdmin):
    """Moderation view. Email addresses are not shown: pending ones are only for the
    confirmation mail, and confirmed signatures keep only a keyed hash."""

    list_display = ["name", "affiliation", "letter", "status", "display"]
    list_filter = ["status", "display", "letter"]
    search_fields = ["name", "affiliation"]
    fields = ["letter", "status", "display", "name", "affiliation", "department", "comment"]
    readonly_fields = ["letter", "status"]

    def has_add_permission(self, request):
        return False

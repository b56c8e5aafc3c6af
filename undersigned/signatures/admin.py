from django.contrib import admin

from undersigned.signatures.models import Signature


@admin.register(Signature)
class SignatureAdmin(admin.ModelAdmin):
    """Moderation view. No email address is stored; search by domain or by client-address
    hash, both kept only for UNDERSIGNED_IP_HASH_DAYS days."""

    list_display = [
        "name",
        "affiliation",
        "letter",
        "status",
        "display",
        "flag",
        "email_domain",
        "ip_hash",
    ]
    list_filter = ["status", "display", "flag", "letter"]
    search_fields = ["name", "affiliation", "=email_domain", "=ip_hash"]
    fields = [
        "letter",
        "status",
        "display",
        "name",
        "affiliation",
        "department",
        "comment",
        "verified_domain",
        "flag",
        "invalidation",
        "email_domain",
        "ip_hash",
        "ip_day",
    ]
    readonly_fields = [
        "letter",
        "status",
        "verified_domain",
        "flag",
        "invalidation",
        "email_domain",
        "ip_hash",
        "ip_day",
    ]

    def has_add_permission(self, request):
        return False

from django.contrib import admin

from undersigned.signatures.models import Signature


@admin.register(Signature)
class SignatureAdmin(admin.ModelAdmin):
    """Moderation view, read-only. No email address is stored; search by domain or by
    client-address hash, both kept only for UNDERSIGNED_IP_HASH_DAYS days. What a signer gave
    (their display choice, name, affiliation, department, comment) only the signer may
    change, from their private link: an operator who could edit it could publish a hidden
    signer under any name. Operators act on signatures in bulk, by invalidation or by
    reviewing held ones, with a public reason."""

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
    search_fields = ["=email_domain", "=ip_hash"]  # names are encrypted at rest
    fields = readonly_fields = (
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
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

from django.contrib import admin

from undersigned.accounts.models import OrganizerKey


@admin.register(OrganizerKey)
class OrganizerKeyAdmin(admin.ModelAdmin):
    """Operators may relabel or delete (revoke) a key; keys are added with ``undersigned keys``,
    because only the organizer may hold the private half."""

    list_display = ["key_id", "user", "label", "created_at"]
    list_select_related = ["user"]
    search_fields = ["key_id", "label", "user__username"]
    readonly_fields = ["user", "public_key", "key_id", "created_at"]
    fields = ["user", "label", "public_key", "key_id", "created_at"]

    def has_add_permission(self, request):
        return False

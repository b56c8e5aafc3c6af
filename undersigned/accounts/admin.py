from django.contrib import admin

from undersigned.accounts import services
from undersigned.accounts.models import OrganizerKey


@admin.register(OrganizerKey)
class OrganizerKeyAdmin(admin.ModelAdmin):
    """Operators may delete (revoke) a key, an event of every letter its owner organizes; keys
    are added by their owner (the *Your keys* page, ``undersigned keys``), who alone holds the
    private half."""

    list_display = ["key_id", "user", "label", "created_at"]
    list_select_related = ["user"]
    search_fields = ["key_id", "label", "user__username"]
    readonly_fields = ["user", "label", "public_key", "key_id", "created_at"]
    fields = ["user", "label", "public_key", "key_id", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.remove_key(obj, actor=request.user, via="admin")

    def delete_queryset(self, request, queryset):
        for key in queryset.select_related("user"):
            services.remove_key(key, actor=request.user, via="admin")

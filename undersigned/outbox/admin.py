from django.contrib import admin

from undersigned.outbox.models import OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ["kind", "status", "attempts", "retry_after", "created_at", "sent_at"]
    list_filter = ["status", "kind"]
    fields = readonly_fields = (
        "kind",
        "status",
        "attempts",
        "retry_after",
        "last_error",
        "created_at",
        "sent_at",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

from django.contrib import admin

from undersigned.tips import services
from undersigned.tips.models import Recipient


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    """Who receives the tips sent to the whole instance (``/tips/``): those accounts' keys.
    Adding one is an event mailed to every operator. Conversations themselves are not here:
    nothing on the server can read them."""

    list_display = ["user", "added_on"]
    list_select_related = ["user"]
    fields = ["user"]

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        created = services.add_recipient(obj.user, actor=request.user, via="admin")
        obj.pk = created.pk

    def delete_model(self, request, obj):
        services.remove_recipient(obj.user, actor=request.user, via="admin")

    def delete_queryset(self, request, queryset):
        for recipient in queryset.select_related("user"):
            services.remove_recipient(recipient.user, actor=request.user, via="admin")

from django.contrib import admin

from undersigned.events.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The audit log: every organizer and operator act, and what the worker recorded. Events
    are history: nobody edits or deletes them here (retention does, per kind)."""

    list_display = ["at", "kind", "letter", "actor", "via", "audience", "text"]
    list_filter = ["kind", "audience", "via"]
    list_select_related = ["letter", "actor"]
    search_fields = ["letter__slug", "actor__username"]
    fields = ("at", "kind", "letter", "actor", "via", "audience", "data", "text")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

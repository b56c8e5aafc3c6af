from django import forms
from django.conf import settings
from django.contrib import admin
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path

from undersigned.letters.models import Letter
from undersigned.moderation import trends
from undersigned.moderation.models import audit


class TrendingWindowForm(forms.Form):
    """How many hours back the trending report looks: no further than email domains and
    client-address hashes are kept (UNDERSIGNED_IP_HASH_DAYS)."""

    DEFAULT = 24

    def __init__(self, data):
        super().__init__(data)
        kept = settings.IP_HASH_DAYS * 24
        self.fields["hours"] = forms.IntegerField(
            min_value=1,
            max_value=kept,
            error_messages={
                "max_value": f"Domains and address hashes are kept only {kept} hours "
                "(UNDERSIGNED_IP_HASH_DAYS): ask for that many or fewer.",
            },
        )

    def hours(self) -> int:
        return self.cleaned_data["hours"] if self.is_valid() else self.DEFAULT


@admin.register(Letter)
class LetterAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "slug",
        "status",
        "visibility",
        "signature_count",
        "signing_paused",
        "created_at",
    ]
    list_filter = ["status", "visibility", "signing_paused"]
    search_fields = ["title", "slug", "addressed_to"]
    readonly_fields = [
        "signature_count",
        "verified_count",
        "counted_at",
        "published_at",
        "closed_at",
        "created_at",
        "updated_at",
        "key_destroyed_at",
    ]
    filter_horizontal = ["organizers"]
    actions = ["close_letters", "pause_signing", "resume_signing"]
    change_form_template = "admin/letters/letter/change_form.html"

    def get_urls(self):
        return [
            path(
                "<int:pk>/trending/",
                self.admin_site.admin_view(self.trending_view),
                name="letters_letter_trending",
            ),
            *super().get_urls(),
        ]

    def trending_view(self, request, pk):
        letter = get_object_or_404(Letter, pk=pk)
        window = TrendingWindowForm(request.GET if "hours" in request.GET else None)
        hours = window.hours()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Trending: {letter.title}",
            "letter": letter,
            "window": window,
            "hours": hours,
            "report": trends.report(letter, hours=hours),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/letters/letter/trending.html", context)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit(
            request.user,
            "letter-change" if change else "letter-add",
            obj,
            changed=form.changed_data,
        )

    @admin.action(description="Close the selected letters to new signatures")
    def close_letters(self, request, queryset):
        for letter in queryset.filter(status=Letter.Status.OPEN):
            letter.close()
            audit(request.user, "close", letter)

    @admin.action(description="Pause signing on the selected letters (kill switch)")
    def pause_signing(self, request, queryset):
        for letter in queryset:
            letter.signing_paused = True
            letter.save(update_fields=["signing_paused"])
            audit(request.user, "pause", letter)

    @admin.action(description="Resume signing on the selected letters")
    def resume_signing(self, request, queryset):
        for letter in queryset:
            letter.signing_paused = False
            letter.save(update_fields=["signing_paused"])
            audit(request.user, "resume", letter)

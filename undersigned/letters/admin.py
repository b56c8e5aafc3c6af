from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from undersigned import events
from undersigned.letters import organizers as team
from undersigned.letters import services
from undersigned.letters.models import Letter, Organizer, Version
from undersigned.lib.times import zone_names
from undersigned.moderation import trends
from undersigned.moderation.forms import HeldForm, held_by_reason
from undersigned.signatures import privacy


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


def _looked_up(domain: str) -> tuple[str, str] | None:
    """(domain, the key it is kept under) for a domain an operator asks about: small domains
    are kept as keyed hashes, which the report shows."""
    domain = domain.strip().lower().lstrip("@")[:253]
    if not domain or any(c.isspace() for c in domain):
        return None
    return domain, privacy.stored_domain(domain, verified=False)


class OrganizerFormSet(forms.BaseInlineFormSet):
    def clean(self):
        """A letter keeps an owner (the same rule as ``organizers.change``, said as a form
        error rather than a failure)."""
        super().clean()
        if not self.has_changed():
            return
        kept = [
            form.cleaned_data
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and form.cleaned_data.get("user")
            and not form.cleaned_data.get("DELETE")
        ]
        if not any(row.get("role") == Organizer.Role.OWNER for row in kept):
            raise forms.ValidationError(
                "A letter needs an owner: make someone else an owner before removing the last."
            )


class VersionInline(admin.TabularInline):
    """What people signed, to read: a published version is never changed or deleted, here
    as anywhere (``Version.save`` and ``Version.delete`` refuse too)."""

    model = Version
    fields = ("number", "published_at", "corrections_only", "hash")
    readonly_fields = ("number", "published_at", "corrections_only", "hash")
    extra = 0
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrganizerInline(admin.TabularInline):
    model = Organizer
    formset = OrganizerFormSet
    extra = 1
    fields = ["user", "role"]
    autocomplete_fields = ["user"]


class LetterAdminForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        required=False,
        choices=lambda: [(name, name) for name in zone_names()],
        help_text="Where the letter's pages show the deadline; here it is entered in UTC.",
    )

    class Meta:
        model = Letter
        exclude: list[str] = []

    def clean_time_zone(self):
        return self.cleaned_data.get("time_zone") or self.instance.time_zone or "UTC"


@admin.register(Letter)
class LetterAdmin(admin.ModelAdmin):
    form = LetterAdminForm
    list_display = [
        "title",
        "slug",
        "status",
        "visibility",
        "signature_count",
        "held_count",
        "signing_paused",
        "created_at",
    ]
    list_filter = ["status", "visibility", "signing_paused"]
    search_fields = ["title", "slug", "addressed_to"]
    # The state changes only through the actions below (the letters' verbs), never by hand.
    readonly_fields = [
        "status",
        "signing_paused",
        "signature_count",
        "verified_count",
        "held_count",
        "counted_at",
        "published_at",
        "closed_at",
        "created_at",
        "updated_at",
        "key_destroyed_at",
    ]
    inlines = [OrganizerInline, VersionInline]
    actions = [
        "publish_letters",
        "close_letters",
        "reopen_letters",
        "pause_signing",
        "resume_signing",
    ]
    change_form_template = "admin/letters/letter/change_form.html"

    def get_urls(self):
        return [
            path(
                "<int:pk>/trending/",
                self.admin_site.admin_view(self.trending_view),
                name="letters_letter_trending",
            ),
            path(
                "<int:pk>/held/",
                self.admin_site.admin_view(self.held_view),
                name="letters_letter_held",
            ),
            *super().get_urls(),
        ]

    def held_view(self, request, pk):
        """Held signatures of a letter, per reason: count them, or remove them."""
        letter = get_object_or_404(Letter, pk=pk)
        form = HeldForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            self.message_user(request, form.apply(letter, actor=request.user, via="admin"))
            return redirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Held for review: {letter.title}",
            "letter": letter,
            "held": held_by_reason(letter),
            "form": form,
            "opts": self.model._meta,
        }
        status = 400 if form.errors else 200
        return TemplateResponse(request, "admin/letters/letter/held.html", context, status=status)

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
            "looked_up": _looked_up(request.GET.get("domain", "")),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/letters/letter/trending.html", context)

    def save_model(self, request, obj, form, change):
        if change:
            services.edit(obj, form.changed_data, actor=request.user, via="admin")
        else:
            services.create(obj, actor=request.user, via="admin")

    def save_related(self, request, form, formsets, change):
        """The organizers' inline goes through the letter's verbs (and their event)."""
        letter = form.instance
        for formset in formsets:
            roles, removed = {}, []
            for inline in formset.forms:
                if not inline.has_changed() and not formset.can_delete:
                    continue
                data = getattr(inline, "cleaned_data", {})
                user = data.get("user")
                if user is None:
                    continue
                if data.get("DELETE"):
                    removed.append(user)
                elif inline.has_changed():
                    roles[user] = data["role"]
            team.change(letter, roles=roles, removed=removed, actor=request.user, via="admin")
            # What the admin's change message reads (formset.save() would have set them).
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request, obj):
        with transaction.atomic():
            events.record("letter.deleted", actor=request.user, via="admin", slug=obj.slug)
            obj.delete()

    def delete_queryset(self, request, queryset):
        for letter in queryset:
            self.delete_model(request, letter)

    def _each(self, request, queryset, verb, done: str) -> None:
        """Apply a letter verb to each selected letter; say which it could not apply to."""
        changed = 0
        for letter in queryset:
            try:
                verb(letter, actor=request.user, via="admin")
            except services.LetterError as exc:
                self.message_user(request, f"{letter.slug}: {exc}", messages.WARNING)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{done}: {changed} letter{'s' if changed != 1 else ''}.")

    @admin.action(description="Publish the selected drafts")
    def publish_letters(self, request, queryset):
        self._each(request, queryset, services.publish, "Published")

    @admin.action(description="Close the selected letters to new signatures")
    def close_letters(self, request, queryset):
        self._each(request, queryset, services.close, "Closed")

    @admin.action(description="Reopen the selected closed letters")
    def reopen_letters(self, request, queryset):
        self._each(request, queryset, services.reopen, "Reopened")

    @admin.action(description="Pause signing on the selected letters (kill switch)")
    def pause_signing(self, request, queryset):
        self._each(request, queryset, services.pause, "Signing paused")

    @admin.action(description="Resume signing on the selected letters")
    def resume_signing(self, request, queryset):
        self._each(request, queryset, services.resume, "Signing resumed")

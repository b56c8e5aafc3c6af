"""A letter's life: versions of its text, updates, demands (with notes), responses;
invitations and old addresses. Every letter published before gets its current text as
version 1 (signatures given before keep no version: they were given before versions were
kept)."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def first_versions(apps, schema_editor):
    from undersigned.letters.models.life import text_hash

    Letter = apps.get_model("letters", "Letter")
    Version = apps.get_model("letters", "Version")
    for letter in Letter.objects.exclude(status="draft"):
        Version.objects.create(
            letter=letter,
            number=1,
            title=letter.title,
            addressed_to=letter.addressed_to,
            body=letter.body,
            hash=text_hash(letter.title, letter.addressed_to, letter.body),
            published_at=letter.published_at or letter.created_at,
        )
        Letter.objects.filter(pk=letter.pk).update(version=1)


class Migration(migrations.Migration):

    dependencies = [
        ('letters', '0006_organizer_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='letter',
            name='version',
            field=models.PositiveIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.CreateModel(
            name='Demand',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('text', models.CharField(max_length=500)),
                ('status', models.CharField(choices=[('open', 'Open'), ('met', 'Met'), ('partly-met', 'Partly met'), ('refused', 'Refused')], default='open', max_length=12)),
                ('position', models.PositiveIntegerField(default=0)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('letter', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='demands', to='letters.letter')),
            ],
            options={
                'ordering': ['position', 'id'],
            },
        ),
        migrations.CreateModel(
            name='DemandNote',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('open', 'Open'), ('met', 'Met'), ('partly-met', 'Partly met'), ('refused', 'Refused')], max_length=12)),
                ('note', models.TextField(blank=True, validators=[django.core.validators.MaxLengthValidator(5000)])),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
                ('demand', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notes', to='letters.demand')),
            ],
            options={
                'ordering': ['at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Invitation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('owner', 'Owner: everything, including inviting and removing organizers'), ('editor', 'Editor: the text, updates, demands and responses'), ('viewer', 'Viewer: the counts and exports')], max_length=8)),
                ('token_hash', models.CharField(max_length=64, unique=True)),
                ('expires_at', models.DateTimeField()),
                ('accepted_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('invited_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('letter', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='letters.letter')),
            ],
        ),
        migrations.CreateModel(
            name='Response',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('by', models.CharField(help_text='Who said it (a person or a body).', max_length=200)),
                ('role', models.CharField(blank=True, help_text="e.g. 'Chief executive'.", max_length=200)),
                ('date', models.DateField(help_text='When it was said or published.')),
                ('quote', models.TextField(help_text='The quote or a summary (Markdown).', validators=[django.core.validators.MaxLengthValidator(20000)])),
                ('sources', models.JSONField(default=list)),
                ('note', models.TextField(blank=True, help_text="The organizers' note beside it (Markdown), e.g. what it contradicts.", validators=[django.core.validators.MaxLengthValidator(20000)])),
                ('note_sources', models.JSONField(blank=True, default=list)),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('letter', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='responses', to='letters.letter')),
            ],
            options={
                'ordering': ['-date', '-id'],
            },
        ),
        migrations.CreateModel(
            name='SlugRedirect',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('slug', models.SlugField(max_length=80, unique=True)),
                ('letter', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='letters.letter')),
            ],
        ),
        migrations.CreateModel(
            name='Update',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('body', models.TextField(validators=[django.core.validators.MaxLengthValidator(20000)])),
                ('posted_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('edited_at', models.DateTimeField(blank=True, null=True)),
                ('author', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('letter', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='updates', to='letters.letter')),
            ],
            options={
                'ordering': ['-posted_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='Version',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField()),
                ('title', models.CharField(max_length=200)),
                ('addressed_to', models.CharField(blank=True, max_length=200)),
                ('body', models.TextField()),
                ('hash', models.CharField(max_length=64)),
                ('published_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('corrections_only', models.BooleanField(default=False, help_text='Only corrections (typos, links): what was asked is unchanged.')),
                ('letter', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='versions', to='letters.letter')),
            ],
            options={
                'ordering': ['number'],
                'constraints': [models.UniqueConstraint(fields=('letter', 'number'), name='one_version_number')],
            },
        ),
        migrations.RunPython(first_versions, migrations.RunPython.noop),
    ]

"""Organizers get a role per letter: the plain many-to-many becomes a through model on the
same table (``Organizer``), with a role column; everyone who organized a letter is an owner."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("letters", "0005_member_pass_proves"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Organizer",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "letter",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, to="letters.letter"
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "letters_letter_organizers",
                        "unique_together": {("letter", "user")},
                    },
                ),
                migrations.AlterField(
                    model_name="letter",
                    name="organizers",
                    field=models.ManyToManyField(
                        related_name="letters",
                        through="letters.Organizer",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="organizer",
            name="role",
            field=models.CharField(
                choices=[
                    ("owner", "Owner: everything, including inviting and removing organizers"),
                    ("editor", "Editor: the text, updates, demands and responses"),
                    ("viewer", "Viewer: the counts and exports"),
                ],
                default="owner",
                max_length=8,
            ),
        ),
    ]

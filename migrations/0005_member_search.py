from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

from app.accounts.name_search import sort_key, words

BACKFILL_BATCH = 1_000


async def _c_collation_on_postgres(apps, schema_editor) -> None:
    """On PostgreSQL, the folded words and names compare byte for byte ("C" collation), so a
    prefix is a range the (word, user_id) index can scan, and the (sort_name, id) index
    serves the member list's order. SQLite compares that way already (BINARY)."""
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    await client.execute_script(
        'ALTER TABLE "user_name_word" ALTER COLUMN "word" TYPE VARCHAR(100) COLLATE "C";'
        'ALTER TABLE "user" ALTER COLUMN "sort_name" TYPE VARCHAR(400) COLLATE "C";'
    )


async def _index_existing_names(apps, schema_editor) -> None:
    """Names set before this migration: their sort keys and searchable words."""
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    mark = (lambda i: f"${i}") if postgres else (lambda i: "?")
    last_id = 0
    while True:
        _, rows = await client.execute_query(
            f'SELECT id, name FROM "user" WHERE id > {mark(1)} ORDER BY id LIMIT {BACKFILL_BATCH}', [last_id]
        )
        if not rows:
            return
        rows = [dict(r) for r in rows]
        await client.execute_many(
            f'UPDATE "user" SET sort_name = {mark(1)} WHERE id = {mark(2)}',
            [[sort_key(r["name"]), r["id"]] for r in rows],
        )
        word_rows = [[r["id"], w] for r in rows for w in words(r["name"])]
        if word_rows:
            await client.execute_many(
                f'INSERT INTO "user_name_word" (user_id, word) VALUES ({mark(1)}, {mark(2)})', word_rows
            )
        last_id = rows[-1]["id"]


class Migration(migrations.Migration):
    dependencies = [('models', '0004_outbox_coalescing_guest_invitations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='UserNameWord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='name_words', on_delete=OnDelete.CASCADE)),
                ('word', fields.CharField(max_length=100)),
            ],
            options={'table': 'user_name_word', 'app': 'models', 'unique_together': (('user', 'word'),), 'indexes': [Index(fields=['word', 'user_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='sort_name',
            field=fields.CharField(default='', db_default='', max_length=400),
        ),
        ops.AddIndex(
            model_name='User',
            index=Index(fields=['sort_name', 'id']),
        ),
        ops.AddIndex(
            model_name='Membership',
            index=Index(fields=['program_id', 'role', 'user_id']),
        ),
        ops.RunPython(_c_collation_on_postgres, reverse_code=ops.RunPython.noop),
        ops.RunPython(_index_existing_names, reverse_code=ops.RunPython.noop),
    ]

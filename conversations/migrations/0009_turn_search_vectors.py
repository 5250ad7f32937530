# Full-text search on PostgreSQL, over two stored columns of the assistant turns
# that have ended, each with a GIN index (PostgreSQL only; the ORM does not know the
# columns: conversations/review/filters.py names them in SQL):
# - `search_words`: to_tsvector('simple', reasoning + answer), every word;
# - `search_cjk`: the CJK character bigrams of the same text. The 'simple' parser
#   keeps a run of CJK characters as one token, so a Chinese word inside it is found
#   by asking for each of its bigrams, then checking the exact substring.
#
# Stored columns rather than expression indexes (migration 0004's, dropped here):
# - a search for a common word walks the newest-first index and must test each row:
#   an expression index would recompute to_tsvector for it (about 8 ms per 15 KB
#   of reasoning), a stored column is read;
# - PostgreSQL keeps no statistics for the expression of a partial index, so it
#   guessed every word rare and sorted all of a common word's turns, texts and
#   all; a column has statistics;
# - NULL while the turn streams: a checkpoint (once a second per running turn)
#   rewrote the row, and with it recomputed both expressions over the whole text so
#   far; now they are computed once, when the turn ends (and on a redaction or a
#   purge, which change the text).
# Not pg_trgm for Chinese: a trigram index extracts nothing from a 2-character
# pattern (most Chinese words have two: 推理, 模型), and on a database whose LC_CTYPE
# is C it treats CJK characters as separators.
#
# The bigram function keeps the CJK characters (every other run becomes a space),
# then emits each run's bigrams at even and at odd offsets, so every adjacent pair
# is a token and each character starts a token or ends its run as a lone one (a
# 1-character query is a prefix match). At most 100,000 characters of each text: a
# tsvector is limited to 1 MB. IMMUTABLE: a generated column's expression; qualified
# names: it must not depend on the search_path.

from django.db import migrations

CJK_CLASS = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"

FUNCTION_SQL = rf"""
CREATE OR REPLACE FUNCTION conversations_cjk_bigrams(body text) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    cjk text := pg_catalog.left(
        pg_catalog.regexp_replace(body, '[^{CJK_CLASS}]+', ' ', 'g'), 100000);
BEGIN
    RETURN pg_catalog.array_to_tsvector(pg_catalog.array_remove(pg_catalog.string_to_array(
        pg_catalog.regexp_replace(cjk, '([^ ][^ ])', '\1 ', 'g') || ' ' ||
        pg_catalog.regexp_replace(
            pg_catalog.regexp_replace(cjk, '(^| )[^ ]', '\1', 'g'), '([^ ][^ ])', '\1 ', 'g'),
        ' '), ''));
END
$$
"""

TEXT = "left(reasoning_content, 100000) || ' ' || left(content, 100000)"
ENDED = "role = 'assistant' AND status <> 'streaming'"
# Migration 0004's index, put back when this one is undone.
FULLTEXT_SQL = (
    "CREATE INDEX IF NOT EXISTS turn_fulltext_simple ON conversations_turn USING gin "
    f"(to_tsvector('simple'::regconfig, {TEXT})) WHERE role = 'assistant'"
)

COLUMNS_SQL = f"""
ALTER TABLE conversations_turn
    ADD COLUMN search_words tsvector GENERATED ALWAYS AS (
        CASE WHEN {ENDED} THEN to_tsvector('simple'::regconfig, {TEXT}) END) STORED,
    ADD COLUMN search_cjk tsvector GENERATED ALWAYS AS (
        CASE WHEN {ENDED} THEN conversations_cjk_bigrams({TEXT}) END) STORED
"""

INDEX_SQL = [
    "CREATE INDEX IF NOT EXISTS turn_search_words ON conversations_turn USING gin (search_words)",
    "CREATE INDEX IF NOT EXISTS turn_search_cjk ON conversations_turn USING gin (search_cjk)",
    # More common lexemes kept: Chinese bigrams are many, and a common word's share
    # decides between walking the newest turns and reading the index.
    "ALTER TABLE conversations_turn ALTER COLUMN search_words SET STATISTICS 1000",
    "ALTER TABLE conversations_turn ALTER COLUMN search_cjk SET STATISTICS 1000",
]


def add_search(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION_SQL)
        schema_editor.execute(COLUMNS_SQL)
        for sql in INDEX_SQL:
            schema_editor.execute(sql)
        schema_editor.execute("DROP INDEX IF EXISTS turn_fulltext_simple")


def drop_search(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE conversations_turn DROP COLUMN IF EXISTS search_words")
        schema_editor.execute("ALTER TABLE conversations_turn DROP COLUMN IF EXISTS search_cjk")
        schema_editor.execute("DROP FUNCTION IF EXISTS conversations_cjk_bigrams(text)")
        schema_editor.execute(FULLTEXT_SQL)


class Migration(migrations.Migration):
    # Adding the columns rewrites the table under its lock: minutes on a big one.
    dependencies = [
        ("conversations", "0008_review_sort_indexes"),
    ]

    operations = [migrations.RunPython(add_search, drop_search)]

-- The search index (search/src/store.rs), kept current by the catalog inside its own transactions.
-- Entries: what an answer shows and what ranking and visibility need.
CREATE TABLE search_entries (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    name_words INTEGER NOT NULL,
    title_kind TEXT,
    release_year INTEGER,
    genres TEXT NOT NULL,
    popularity REAL NOT NULL,
    visible_from INTEGER,
    visible_until INTEGER
);

-- The vocabulary: every folded word of any entry, with how many entries have it (0 rows are removed).
CREATE TABLE search_terms (
    term TEXT PRIMARY KEY,
    chars INTEGER NOT NULL,
    entries INTEGER NOT NULL
) WITHOUT ROWID;

-- The trigrams of each vocabulary word of 4 characters or more: near spellings share some.
CREATE TABLE search_trigrams (
    trigram TEXT NOT NULL,
    chars INTEGER NOT NULL,
    term TEXT NOT NULL,
    PRIMARY KEY (trigram, chars, term)
) WITHOUT ROWID;
CREATE INDEX search_trigrams_term ON search_trigrams (term);

-- Which entries have which word, in which field (0 name, 1 other names, 2 related, 3 text).
CREATE TABLE search_postings (
    term TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    field INTEGER NOT NULL,
    PRIMARY KEY (term, entry_id, field)
) WITHOUT ROWID;
CREATE INDEX search_postings_entry ON search_postings (entry_id, term);

-- The search index (search/src/store.rs), kept current by the catalog inside its own transactions.
-- Words and ids compare byte by byte ("C"), as SQLite does, so prefix ranges and orderings agree on both.
-- Entries: what an answer shows and what ranking and visibility need.
CREATE TABLE search_entries (
    id TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    name_words BIGINT NOT NULL,
    title_kind TEXT,
    release_year BIGINT,
    genres TEXT NOT NULL,
    popularity DOUBLE PRECISION NOT NULL,
    visible_from BIGINT,
    visible_until BIGINT
);

-- The vocabulary: every folded word of any entry, with how many entries have it (0 rows are removed).
CREATE TABLE search_terms (
    term TEXT COLLATE "C" PRIMARY KEY,
    chars BIGINT NOT NULL,
    entries BIGINT NOT NULL
);

-- The trigrams of each vocabulary word of 4 characters or more: near spellings share some.
CREATE TABLE search_trigrams (
    trigram TEXT COLLATE "C" NOT NULL,
    chars BIGINT NOT NULL,
    term TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (trigram, chars, term)
);
CREATE INDEX search_trigrams_term ON search_trigrams (term);

-- Which entries have which word, in which field (0 name, 1 other names, 2 related, 3 text).
CREATE TABLE search_postings (
    term TEXT COLLATE "C" NOT NULL,
    entry_id TEXT COLLATE "C" NOT NULL,
    field BIGINT NOT NULL,
    PRIMARY KEY (term, entry_id, field)
);
CREATE INDEX search_postings_entry ON search_postings (entry_id, term);

//! Recommendations (`marquee api` mounts them): "more like this" per title (item-to-item co-viewing, with
//! genre and people similarity for titles nobody watched yet) and "for you" per viewer, falling back to
//! popularity. The scoring is pure; an offline evaluation measures hit rate at 10 against most-popular.

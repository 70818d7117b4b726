/* Appraisal of a push's evidence items as evidence (docs/appraisal.md,
 * "Conflicts and gaps"): an item resent under a known (epoch, seq) with
 * other content, and a gap the agent's spool reports (it had to drop
 * items), are evidence an operator must see: each adds a reason and turns
 * the `configuration` claim `warning`. Pure: the caller takes the snapshot
 * (store_items_known) and stores what comes out. */
#ifndef VIGIL_APPRAISE_ITEMS_H
#define VIGIL_APPRAISE_ITEMS_H

#include <stddef.h>

#include "ear.h"
#include "store.h"

/* known[i]: what the store holds under items[i]'s key (ITEM_NEW: none). */
void appraise_items(const struct item_in *items, size_t n,
    const enum item_outcome *known, struct ear *e);

/* "event-log", "gap", "checkpoint", ... for an ItemKind ("unknown"). */
const char *appraise_item_kind_name(uint32_t kind);

#endif

/*
 * reply.c - public reply trees. The reader builds hr_reply trees (our RESP
 * codec); the public API hands out herald_reply_t trees of the same shape, so
 * the internal type can change without breaking users. Conversion moves the
 * strings (no copy) and frees the hr_reply nodes. Nesting is bounded by the
 * reader's maximum depth, so the recursion here is too.
 */
#include "client_int.h"

#include <string.h>

#include "alloc.h"

_Static_assert((int)HERALD_REPLY_STRING == (int)HR_RESP_STRING &&
                   (int)HERALD_REPLY_BLOBERR == (int)HR_RESP_BLOBERR &&
                   (int)HERALD_REPLY_PUSH == (int)HR_RESP_PUSH &&
                   (int)HERALD_REPLY_NIL == (int)HR_RESP_NIL,
               "herald_reply_type_t mirrors hr_resp_type");

herald_reply_t *hc_reply_convert(hr_reply *r)
{
    if (!r) return NULL;
    herald_reply_t *o = hr_calloc(1, sizeof(*o));
    o->type = (herald_reply_type_t)r->type;
    o->integer = r->integer;
    o->dval = r->dval;
    o->len = r->len;
    o->str = r->str;
    r->str = NULL;
    memcpy(o->vtype, r->vtype, sizeof(o->vtype));
    if (r->elements > 0) {
        o->elements = r->elements;
        o->element = hr_calloc(r->elements, sizeof(*o->element));
        for (size_t i = 0; i < r->elements; i++) {
            o->element[i] = hc_reply_convert(r->element[i]);
            r->element[i] = NULL;
        }
    }
    hr_reply_free(r);
    return o;
}

void herald_reply_free(herald_reply_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->elements; i++)
        herald_reply_free(r->element[i]);
    hr_free(r->element);
    hr_free(r->str);
    hr_free(r);
}

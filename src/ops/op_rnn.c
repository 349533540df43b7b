/* op_rnn.c — the recurrent ops (issue 5): being written */
#include "ops_util.h"

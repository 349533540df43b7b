/* text.c — tokenizer, vocabulary, IMDB reader (issue 5): being written */
#include "io.h"

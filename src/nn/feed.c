/* feed.c — placeholder, filled by the split of train.c */

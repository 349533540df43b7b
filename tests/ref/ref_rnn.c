/* ref_rnn.c — host references of the recurrent ops: being written */
int ref_rnn_placeholder;

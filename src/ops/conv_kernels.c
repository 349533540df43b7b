/* conv_kernels.c — placeholder, filled by the split of op_conv.c */

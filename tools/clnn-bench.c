#include "clnn.h"
int main(void){return 0;}

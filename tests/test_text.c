/* test_text.c — being written */
#include <stdlib.h>
int main(void)
{
    return EXIT_SUCCESS;
}

/* A threaded program that fails on its own: starts a thread (glibc tries clone3 first, gets hardrun's deliberate
 * ENOSYS and falls back to clone), joins it and exits with the status it was given (default 3). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *work(void *arg) {
    (void)arg;
    return NULL;
}

int main(int argc, char **argv) {
    pthread_t t;
    int rc = pthread_create(&t, NULL, work, NULL);
    if (rc != 0) {
        fprintf(stderr, "threaded: pthread_create failed: %d\n", rc);
        return 100;
    }
    pthread_join(t, NULL);
    fprintf(stderr, "threaded: the thread ran; exiting %s\n", argc > 1 ? argv[1] : "3");
    return argc > 1 ? atoi(argv[1]) : 3;
}

/* Network probes: raw and packet sockets, AF_VSOCK to the hypervisor, the host's network. */
#include "probe.h"  /* first: it defines _GNU_SOURCE */

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>


static void socket_probe(int domain, int type, int protocol, const char *op, const char *what) {
    int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd >= 0) {
        close(fd);
        finish(NOT_BLOCKED, op, 0, "opened %s", what);
    }
    int e = errno;
    if (refused(e)) finish(BLOCKED, op, e, "cannot open %s", what);
    if (e == EAFNOSUPPORT || e == EPROTONOSUPPORT || e == ESOCKTNOSUPPORT)
        finish(NOT_APPLICABLE, op, e, "this kernel does not support %s", what);
    finish(PROBE_ERROR, op, e, "unexpected error");
}

static void p_raw_socket(int argc, char **argv) {
    (void)argc, (void)argv;
    socket_probe(AF_INET, SOCK_RAW, IPPROTO_ICMP, "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)", "a raw IP socket");
}

static void p_packet_socket(int argc, char **argv) {
    (void)argc, (void)argv;
    socket_probe(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL), "socket(AF_PACKET, SOCK_RAW)", "a packet socket");
}

/* socket()'s domain is an int: the kernel reads the low 32 bits of the register, so 0x100000028 is AF_VSOCK to it.
 * A filter comparing all 64 bits would not see AF_VSOCK there (and Docker's "domain > 40" allow rule matches it):
 * the high-bit domains are tried first, so that a filter letting them through is named in the verdict. Blocked
 * only when every variant is refused; creating the socket is enough (connecting could reach the hypervisor). */
static void p_vsock(int argc, char **argv) {
    (void)argc, (void)argv;
    static const unsigned long domains[] = {0x100000028UL, 0xffffffff00000028UL, 40 /* AF_VSOCK */};
    const char *op = "socket(AF_VSOCK, SOCK_STREAM), also with domain 0x100000028 and 0xffffffff00000028";
    int refused_all = 1, refusal = 0, unsupported = 0, other = 0;
    for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++) {
        long fd = syscall(SYS_socket, domains[i], SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            close((int)fd);
            finish(NOT_BLOCKED, op, 0, "opened a vsock socket (to the hypervisor) with domain %#lx", domains[i]);
        }
        int e = errno;
        if (refused(e)) {
            refusal = e;
            continue;
        }
        refused_all = 0;
        if (e == EAFNOSUPPORT || e == EPROTONOSUPPORT || e == ESOCKTNOSUPPORT) unsupported = e;
        else other = e;
    }
    if (refused_all) finish(BLOCKED, op, refusal, "cannot open a vsock socket, with or without high bits in the domain");
    if (other) finish(PROBE_ERROR, op, other, "unexpected error");
    finish(NOT_APPLICABLE, op, unsupported, "this kernel does not support a vsock socket");
}

/* Any interface besides loopback with an address, or a route to a public address, reaches the host's network. */
static void p_host_network(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "list interfaces; connect(UDP) to 192.0.2.1 and 2001:db8::1";
    struct ifaddrs *ifa = NULL;
    char names[256] = "";
    if (getifaddrs(&ifa) == 0) {
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
            if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP)) continue;
            if (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6) continue;
            if (strstr(names, i->ifa_name)) continue;
            if (strlen(names) + strlen(i->ifa_name) + 3 < sizeof names) {
                if (*names) strcat(names, ", ");
                strcat(names, i->ifa_name);
            }
        }
        freeifaddrs(ifa);
    }
    if (*names) finish(NOT_BLOCKED, op, 0, "interfaces with addresses besides loopback: %s", names);
    /* a UDP connect only looks up a route: nothing is sent */
    int e4 = 0, e6 = 0;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
        inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) finish(NOT_BLOCKED, op, 0, "there is a route to 192.0.2.1");
        e4 = errno;
        close(fd);
    }
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
        inet_pton(AF_INET6, "2001:db8::1", &a.sin6_addr);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) finish(NOT_BLOCKED, op, 0, "there is a route to 2001:db8::1");
        e6 = errno;
        close(fd);
    }
    finish(BLOCKED, op, e4 ? e4 : e6, "only the loopback interface; no route out (IPv4 %s, IPv6 %s)", e4 ? errname(e4) : "-",
           e6 ? errname(e6) : "-");
}

const struct probe net_probes[] = {
    {"raw-socket", p_raw_socket},
    {"packet-socket", p_packet_socket},
    {"vsock-socket", p_vsock},
    {"host-network", p_host_network},
    {NULL, NULL},
};

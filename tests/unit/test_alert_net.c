/* The SSRF guard's address classifier, allow-list and URL check. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "earshot/alert.h"
#include "harness.h"

static enum es_net_class cls(const char *ip, const char *allow)
{
    struct es_net_allow al;
    struct es_diag d = {0};
    if (es_net_allow_parse(allow, &al, &d) != 0)
        return (enum es_net_class)-1;
    if (strchr(ip, ':')) {
        struct sockaddr_in6 s = {0};
        s.sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, ip, &s.sin6_addr) != 1)
            return (enum es_net_class)-2;
        return es_net_classify(&s, &al);
    }
    struct sockaddr_in s = {0};
    s.sin_family = AF_INET;
    if (inet_pton(AF_INET, ip, &s.sin_addr) != 1)
        return (enum es_net_class)-2;
    return es_net_classify(&s, &al);
}

ES_TEST(ipv4_ranges)
{
    ES_ASSERT_EQ(cls("8.8.8.8", NULL), ES_NET_OK);
    ES_ASSERT_EQ(cls("93.184.216.34", NULL), ES_NET_OK);
    ES_ASSERT_EQ(cls("127.0.0.1", NULL), ES_NET_LOOPBACK);
    ES_ASSERT_EQ(cls("127.255.255.254", NULL), ES_NET_LOOPBACK);
    ES_ASSERT_EQ(cls("10.0.0.1", NULL), ES_NET_PRIVATE);
    ES_ASSERT_EQ(cls("10.255.255.255", NULL), ES_NET_PRIVATE);
    ES_ASSERT_EQ(cls("172.16.0.1", NULL), ES_NET_PRIVATE);
    ES_ASSERT_EQ(cls("172.31.255.255", NULL), ES_NET_PRIVATE);
    ES_ASSERT_EQ(cls("172.15.255.255", NULL), ES_NET_OK);
    ES_ASSERT_EQ(cls("172.32.0.0", NULL), ES_NET_OK);
    ES_ASSERT_EQ(cls("192.168.1.1", NULL), ES_NET_PRIVATE);
    ES_ASSERT_EQ(cls("192.169.0.1", NULL), ES_NET_OK);
    ES_ASSERT_EQ(cls("100.64.0.1", NULL), ES_NET_PRIVATE);
    ES_ASSERT_EQ(cls("100.100.100.200", NULL), ES_NET_PRIVATE); /* Alibaba Cloud metadata */
    ES_ASSERT_EQ(cls("100.127.255.255", NULL), ES_NET_PRIVATE);
    ES_ASSERT_EQ(cls("100.128.0.0", NULL), ES_NET_OK);
    ES_ASSERT_EQ(cls("100.63.255.255", NULL), ES_NET_OK);
    ES_ASSERT_EQ(cls("169.254.169.254", NULL), ES_NET_LINK_LOCAL);
    ES_ASSERT_EQ(cls("169.254.0.1", NULL), ES_NET_LINK_LOCAL);
    ES_ASSERT_EQ(cls("0.0.0.0", NULL), ES_NET_UNSPECIFIED);
    ES_ASSERT_EQ(cls("0.1.2.3", NULL), ES_NET_UNSPECIFIED);
    ES_ASSERT_EQ(cls("224.0.0.1", NULL), ES_NET_MULTICAST);
    ES_ASSERT_EQ(cls("239.255.255.250", NULL), ES_NET_MULTICAST);
    ES_ASSERT_EQ(cls("255.255.255.255", NULL), ES_NET_RESERVED);
    ES_ASSERT_EQ(cls("240.0.0.1", NULL), ES_NET_RESERVED);
    ES_ASSERT_EQ(cls("192.0.2.1", NULL), ES_NET_RESERVED);
    ES_ASSERT_EQ(cls("198.18.0.1", NULL), ES_NET_RESERVED);
    ES_ASSERT_EQ(cls("198.20.0.1", NULL), ES_NET_OK);
}

ES_TEST(ipv6_ranges)
{
    ES_ASSERT_EQ(cls("2606:4700:4700::1111", NULL), ES_NET_OK);
    ES_ASSERT_EQ(cls("::1", NULL), ES_NET_LOOPBACK);
    ES_ASSERT_EQ(cls("::", NULL), ES_NET_UNSPECIFIED);
    ES_ASSERT_EQ(cls("fc00::1", NULL), ES_NET_PRIVATE);
    ES_ASSERT_EQ(cls("fd00:ec2::254", NULL), ES_NET_PRIVATE); /* AWS metadata over IPv6 */
    ES_ASSERT_EQ(cls("fe80::1", NULL), ES_NET_LINK_LOCAL);
    ES_ASSERT_EQ(cls("febf::1", NULL), ES_NET_LINK_LOCAL);
    ES_ASSERT_EQ(cls("fec0::1", NULL), ES_NET_RESERVED);
    ES_ASSERT_EQ(cls("ff02::1", NULL), ES_NET_MULTICAST);
    ES_ASSERT_EQ(cls("2001:db8::1", NULL), ES_NET_RESERVED);
}

ES_TEST(ipv4_inside_ipv6_is_judged_as_ipv4)
{
    ES_ASSERT_EQ(cls("::ffff:127.0.0.1", NULL), ES_NET_LOOPBACK);
    ES_ASSERT_EQ(cls("::ffff:169.254.169.254", NULL), ES_NET_LINK_LOCAL);
    ES_ASSERT_EQ(cls("::ffff:10.1.2.3", NULL), ES_NET_PRIVATE);
    ES_ASSERT_EQ(cls("::ffff:8.8.8.8", NULL), ES_NET_OK);
    ES_ASSERT_EQ(cls("::127.0.0.1", NULL), ES_NET_LOOPBACK);        /* IPv4-compatible */
    ES_ASSERT_EQ(cls("64:ff9b::a9fe:a9fe", NULL), ES_NET_LINK_LOCAL); /* NAT64 of metadata */
    ES_ASSERT_EQ(cls("2002:7f00:1::", NULL), ES_NET_LOOPBACK);      /* 6to4 of 127.0.0.1 */
    ES_ASSERT_EQ(cls("2002:0808:0808::1", NULL), ES_NET_OK);
}

ES_TEST(allow_list)
{
    ES_ASSERT_EQ(cls("127.0.0.1", "127.0.0.1"), ES_NET_OK);
    ES_ASSERT_EQ(cls("127.0.0.2", "127.0.0.1"), ES_NET_LOOPBACK);
    ES_ASSERT_EQ(cls("127.0.0.2", "127.0.0.0/8"), ES_NET_OK);
    ES_ASSERT_EQ(cls("10.1.200.3", "10.1.0.0/16, ::1"), ES_NET_OK);
    ES_ASSERT_EQ(cls("10.2.0.3", "10.1.0.0/16,::1"), ES_NET_PRIVATE);
    ES_ASSERT_EQ(cls("::1", "10.1.0.0/16,::1"), ES_NET_OK);
    ES_ASSERT_EQ(cls("::ffff:127.0.0.1", "127.0.0.1"), ES_NET_OK);
    ES_ASSERT_EQ(cls("172.20.1.1", "172.16.0.0/12"), ES_NET_OK);
    ES_ASSERT_EQ(cls("169.254.169.254", "127.0.0.1"), ES_NET_LINK_LOCAL);
    struct es_net_allow al;
    struct es_diag d = {0};
    ES_ASSERT_EQ(es_net_allow_parse("127.0.0.1/33", &al, &d), ES_EPARSE);
    ES_ASSERT(strstr(d.msg, "prefix length"));
    ES_ASSERT_EQ(es_net_allow_parse("localhost", &al, &d), ES_EPARSE);
    ES_ASSERT(strstr(d.msg, "localhost"));
    ES_ASSERT_EQ(es_net_allow_parse("1.2.3.4/", &al, &d), ES_EPARSE);
    ES_ASSERT_EQ(es_net_allow_parse("", &al, &d), 0);
    ES_ASSERT_EQ(al.n, 0);
}

ES_TEST(url_check)
{
    struct es_net_allow none = {0}, lo;
    struct es_diag d = {0};
    es_net_allow_parse("127.0.0.1", &lo, &d);
    ES_ASSERT_EQ(es_net_check_url("http://127.0.0.1:8080/hook", false, &none, false, &d),
                 ES_EINVAL);
    ES_ASSERT(strstr(d.msg, "127.0.0.1") && strstr(d.msg, "loopback"));
    ES_ASSERT_EQ(es_net_check_url("http://127.0.0.1:8080/hook", false, &lo, false, &d), 0);
    ES_ASSERT_EQ(es_net_check_url("http://169.254.169.254/latest/meta-data", false, &lo, false,
                                  &d), ES_EINVAL);
    ES_ASSERT(strstr(d.msg, "link-local"));
    ES_ASSERT_EQ(es_net_check_url("http://[::ffff:169.254.169.254]/", false, &lo, false, &d),
                 ES_EINVAL);
    ES_ASSERT_EQ(es_net_check_url("http://[fe80::1%25eth0]/", false, &lo, false, &d), ES_EINVAL);
    ES_ASSERT_EQ(es_net_check_url("http://0x7f000001/", false, &none, true, &d), ES_EINVAL);
    ES_ASSERT_EQ(es_net_check_url("http://2130706433/", false, &none, true, &d), ES_EINVAL);
    ES_ASSERT_EQ(es_net_check_url("ftp://8.8.8.8/x", false, &none, false, &d), ES_EINVAL);
    ES_ASSERT(strstr(d.msg, "scheme"));
    ES_ASSERT_EQ(es_net_check_url("file:///etc/passwd", false, &none, false, &d), ES_EINVAL);
    ES_ASSERT_EQ(es_net_check_url("gopher://8.8.8.8/", false, &none, false, &d), ES_EINVAL);
    ES_ASSERT_EQ(es_net_check_url("smtp://8.8.8.8:25", false, &none, false, &d), ES_EINVAL);
    ES_ASSERT_EQ(es_net_check_url("smtp://8.8.8.8:25", true, &none, false, &d), 0);
    ES_ASSERT_EQ(es_net_check_url("http://8.8.8.8/x", true, &none, false, &d), ES_EINVAL);
    ES_ASSERT_EQ(es_net_check_url("https://8.8.8.8/x", false, &none, false, &d), 0);
    ES_ASSERT_EQ(es_net_check_url("not a url", false, &none, false, &d), ES_EINVAL);
    ES_ASSERT_EQ(es_net_check_url("http://", false, &none, false, &d), ES_EINVAL);
    /* a name resolves: localhost is loopback */
    ES_ASSERT_EQ(es_net_check_url("http://localhost:9/", false, &none, true, &d), ES_EINVAL);
    ES_ASSERT(strstr(d.msg, "loopback"));
}

int main(void)
{
    ES_RUN(ipv4_ranges);
    ES_RUN(ipv6_ranges);
    ES_RUN(ipv4_inside_ipv6_is_judged_as_ipv4);
    ES_RUN(allow_list);
    ES_RUN(url_check);
    return ES_DONE();
}

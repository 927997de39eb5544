#!/usr/bin/python3
"""Plugin integration: every bad configuration stops the broker with a
message naming the option (and the value, and what was expected), and the
broker settings that would silently switch the plugin off are refused.

Real /usr/sbin/mosquitto loading the built plugin; no DNS is needed (the
plugin checks its configuration before it ever queries).
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import Bed, Broker, PluginTestCase  # noqa: E402

# A syntactically valid root DS (IANA's KSK-2017); nothing is queried.
ROOT_DS = (". IN DS 20326 8 2 "
           "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n")



def project_version():
    """The version of project(... VERSION) in the top CMakeLists.txt."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "CMakeLists.txt")) as f:
        m = re.search(r"^project\(\S+ VERSION (\d+\.\d+\.\d+)", f.read(), re.M)
    assert m, "no project(... VERSION) in CMakeLists.txt"
    return m.group(1)


class ConfigTest(PluginTestCase):

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "config", dns=False)
        cls.wd, cls.pki = bed.dir, bed.pki
        cls.ta = os.path.join(cls.wd, "root.ds")
        with open(cls.ta, "w") as f:
            f.write(ROOT_DS)
        cls.n = 0

    def setUp(self):
        self.broker = None

    def tearDown(self):
        if self.broker is not None:
            self.broker.stop()

    def base(self, **overrides):
        opts = {"resolver": "127.0.0.1@53", "trust_anchor": self.ta,
                "allowed_domains": "acme.example", "cafile": self.pki.ca}
        for k, v in overrides.items():
            if v is None:
                opts.pop(k, None)
            else:
                opts[k] = v
        return opts

    def start(self, options, **kw):
        ConfigTest.n += 1
        d = os.path.join(self.wd, "b%d" % ConfigTest.n)
        os.makedirs(d)
        self.broker = Broker(d, self.pki, options, **kw).start(wait=False)
        return self.broker

    def assert_refuses(self, options, *needles, **kw):
        b = self.start(options, **kw)
        rc = b.wait_exit(timeout=20)
        out = b.all_output()
        self.assertIsNotNone(rc, "broker kept running:\n" + out)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("dance: refusing to start:", out)
        # the version that refused comes first
        self.assertLess(out.index("dance: mosquitto-dance %s starting" % project_version()),
                        out.index("dance: refusing to start:"), out)
        for n in needles:
            self.assertIn(n, out)
        return out

    def test_good_configuration_starts(self):
        b = self.start(self.base())
        b.wait_log("dance: DANE client authentication ready", timeout=20)
        b.wait_log("mosquitto version", timeout=20)
        self.assertIsNone(b.proc.poll())
        self.assertIn("dance: mosquitto-dance %s starting" % project_version(),
                      b.all_output())

    @staticmethod
    def example_options(commented=False):
        """The plugin options of examples/mosquitto-dance.conf; with
        commented, the commented-out ones too."""
        here = os.path.dirname(os.path.abspath(__file__))
        example = os.path.join(here, "..", "..", "examples", "mosquitto-dance.conf")
        opts = {}
        with open(example) as f:
            for line in f:
                if commented and line.startswith("#plugin_opt_"):
                    line = line[1:]
                if line.startswith("plugin_opt_"):
                    key, _, value = line[len("plugin_opt_"):].strip().partition(" ")
                    opts[key] = value.strip()
        return opts

    def test_example_configuration_is_valid(self):
        # The plugin options of examples/mosquitto-dance.conf, with this
        # test's files in place of the example's paths.
        opts = self.example_options()
        self.assertIn("allowed_domains", opts)
        opts["cafile"] = self.pki.ca
        opts["resolver"] = "127.0.0.1@53"
        opts["trust_anchor"] = self.ta
        b = self.start(opts)
        b.wait_log("dance: DANE client authentication ready", timeout=20)
        self.assertIsNone(b.proc.poll())

    def test_example_configuration_commented_options_are_valid(self):
        # Every option the example only shows commented out (DNS over TLS,
        # tokens, signed messages) is valid too when switched on.
        opts = self.example_options(commented=True)
        self.assertIn("verify_topics", opts)
        opts["cafile"] = self.pki.ca
        opts["trust_anchor"] = self.ta
        b = self.start(opts)
        b.wait_log("dance: message verification ready", timeout=20)
        self.assertIsNone(b.proc.poll())

    def test_allowed_domains_is_required(self):
        self.assert_refuses(self.base(allowed_domains=None),
                            "plugin_opt_allowed_domains is required")

    def test_unknown_option(self):
        self.assert_refuses(self.base(resolvers="127.0.0.1"),
                            "plugin_opt_resolvers '127.0.0.1': unknown option")

    def test_each_bad_value_names_the_option(self):
        cases = [
            ("resolver", "localhost", "expected a comma list of IP[@PORT]"),
            ("resolver", "127.0.0.1@70000", "expected a comma list of IP[@PORT]"),
            ("trust_anchor", "/nonexistent/dance/root.ds",
             "expected the path of a file with DS or DNSKEY records"),
            ("dns_transport", "https", "expected udp, tcp or tls"),
            ("tls_auth_name", "dns.example", "only used with plugin_opt_dns_transport tls"),
            ("lookup_timeout_ms", "0", "expected milliseconds from 1 to 60000"),
            ("allowed_domains", "acme.example,,other.example",
             "expected a comma list of DNS domain names"),
            ("identity_source", "cn", "expected san or username"),
            ("tlsa_owner", "mqtt", "expected identity or an underscore label"),
            ("cafile", "/nonexistent/dance/ca.pem",
             "expected a readable PEM file with CA certificates"),
            ("fallback", "allow", "expected deny or defer"),
            ("connect_budget_ms", "20000", "expected milliseconds from 0 to 10000"),
            ("cache_size", "0", "expected a number of entries"),
            ("min_ttl", "x", "expected seconds from 0 to 604800"),
            ("max_ttl", "0", "expected seconds from 1 to 604800"),
            ("negative_ttl", "-1", "expected seconds from 0 to 604800"),
            ("failure_ttl", "3601", "expected seconds from 0 to 3600"),
            ("revalidate_interval", "86401", "expected seconds from 0 (off) to 86400"),
            ("stats_interval", "1.5", "expected seconds from 0 (off) to 86400"),
            ("worker_threads", "0", "expected a number of threads from 1 to 64"),
            ("queue_size", "0", "expected a number of jobs from 1 to 1000000"),
        ]
        for key, value, expected in cases:
            with self.subTest(option=key, value=value):
                if key == "tls_auth_name":
                    needle = "plugin_opt_tls_auth_name '%s': %s" % (value, expected)
                else:
                    needle = "plugin_opt_%s '%s': %s" % (key, value, expected)
                self.assert_refuses(self.base(**{key: value}), needle)
                self.broker.stop()
                self.broker = None

    def test_message_verification_starts(self):
        b = self.start(self.base(verify_topics="sensors/#,gw/+/data",
                                 rejected_prefix="rejected/", replay_window="600",
                                 require_iat="true"))
        b.wait_log("dance: message verification ready: verify_topics=sensors/#,gw/+/data "
                   "verified_prefix=verified/ rejected_prefix=rejected/", timeout=20)
        self.assertIsNone(b.proc.poll())

    def test_forwarding_starts(self):
        b = self.start(self.base(verify_topics="devices/#",
                                 forwarders="Edge1._broker.acme.example."))
        b.wait_log("dance: forwarding ready: copies under forwarded_prefix=forwarded/ from "
                   "forwarders=Edge1._broker.acme.example. are verified again", timeout=20)
        self.assertIsNone(b.proc.poll())

    def test_forwarding_refuses_unlimited_queue(self):
        # Mosquitto 2.0.11 drops a client whose PUBLISH is denied when
        # max_queued_messages is 0, and every forwarded copy is denied
        self.assert_refuses(self.base(verify_topics="devices/#",
                                      forwarders="edge1._broker.acme.example"),
                            "sets max_queued_messages to 0 (unlimited)",
                            extra_conf="max_queued_messages 0")

    def test_each_bad_message_option_names_it(self):
        cases = [
            ("verify_topics", "sensors/#/x", "expected a comma list of MQTT topic filters"),
            ("verify_topics", "a,,b", "expected a comma list of MQTT topic filters"),
            ("verified_prefix", "verified", "expected a topic prefix ending in '/'"),
            ("verified_prefix", "v/#/", "expected a topic prefix ending in '/'"),
            ("rejected_prefix", "$SYS/rejected/", "expected a topic prefix ending in '/'"),
            ("max_payload", "0", "expected bytes from 1 to 268435455"),
            ("require_iat", "yes", "expected true or false"),
            ("max_skew", "0", "expected seconds from 1 to 86400"),
            ("replay_window", "86401", "expected seconds from 0 (off) to 86400"),
            ("require_jti", "1", "expected true or false"),
            ("require_topic_binding", "on", "expected true or false"),
            ("message_profile", "lax", "expected strict"),
            ("verify_threads", "0", "expected a number of threads from 1 to 64"),
            ("verify_queue_size", "0", "expected a number of messages from 1 to 1000000"),
            ("forwarders", "edge1._broker.acme.example,,edge2._broker.acme.example",
             "expected a comma list of the DNS identities of brokers"),
            ("forwarders", "edge 1._broker.acme.example",
             "expected a comma list of the DNS identities of brokers"),
            ("forwarded_prefix", "forwarded", "expected a topic prefix ending in '/'"),
            ("encrypted", "drop", "expected refuse (encrypted messages on verify_topics "
             "are not delivered) or pass"),
            ("encrypted", "Pass", "expected refuse"),
        ]
        for key, value, expected in cases:
            with self.subTest(option=key, value=value):
                opts = self.base(**{key: value})
                if key != "verify_topics":
                    opts["verify_topics"] = "sensors/#"
                self.assert_refuses(opts, "plugin_opt_%s '%s': %s" % (key, value, expected))
                self.broker.stop()
                self.broker = None

    def test_message_options_need_verify_topics(self):
        self.assert_refuses(self.base(rejected_prefix="rejected/"),
                            "plugin_opt_rejected_prefix is set but plugin_opt_verify_topics "
                            "is not")

    def test_message_cross_rules(self):
        cases = [
            ({"rejected_prefix": "verified/rejected/"},
             "plugin_opt_rejected_prefix 'verified/rejected/': expected a topic tree apart "
             "from plugin_opt_verified_prefix 'verified/'"),
            ({"message_profile": "compat", "require_iat": "true", "require_jti": "true"},
             "plugin_opt_require_jti 'true': expected plugin_opt_replay_window too"),
            ({"message_profile": "compat", "replay_window": "600", "require_jti": "true"},
             "plugin_opt_require_jti 'true': expected plugin_opt_require_iat true too"),
            ({"replay_window": "300"},
             "plugin_opt_replay_window '300': expected at least twice plugin_opt_max_skew"),
            # the strict profile (default) refuses what would weaken it
            ({"require_iat": "false"},
             "plugin_opt_require_iat 'false': refused by plugin_opt_message_profile strict"),
            ({"require_topic_binding": "false"},
             "plugin_opt_require_topic_binding 'false': refused by "
             "plugin_opt_message_profile strict"),
            ({"replay_window": "0"},
             "plugin_opt_replay_window '0': refused by plugin_opt_message_profile strict"),
            # forwarding: a tree of its own, forwarders that can authenticate
            ({"forwarders": "edge1._broker.acme.example", "forwarded_prefix": "verified/f/"},
             "plugin_opt_forwarded_prefix 'verified/f/': expected a topic tree apart from "
             "plugin_opt_verified_prefix 'verified/'"),
            ({"forwarders": "edge1._broker.acme.example", "verify_topics": "#"},
             "plugin_opt_forwarded_prefix 'forwarded/': expected a topic tree apart from "
             "plugin_opt_verify_topics, but its filter '#'"),
            ({"forwarders": "edge1._broker.other.example"},
             "expected identities under plugin_opt_allowed_domains 'acme.example'"),
            ({"forwarded_prefix": "f/"},
             "plugin_opt_forwarded_prefix is set but plugin_opt_forwarders is not"),
        ]
        for extra, needle in cases:
            with self.subTest(extra=extra):
                opts = self.base(verify_topics="sensors/#")
                opts.update(extra)
                self.assert_refuses(opts, needle)
                self.broker.stop()
                self.broker = None

    def test_min_ttl_above_max_ttl(self):
        self.assert_refuses(self.base(min_ttl="700", max_ttl="600"),
                            "plugin_opt_min_ttl '700': expected at most plugin_opt_max_ttl (600)")

    def test_tls_transport_needs_auth_name(self):
        self.assert_refuses(self.base(dns_transport="tls"),
                            "plugin_opt_dns_transport 'tls': expected plugin_opt_tls_auth_name")

    def test_per_listener_settings_refused(self):
        self.assert_refuses(self.base(), "the plugin is loaded with per_listener_settings true",
                            per_listener_settings=True)

    def test_use_identity_as_username_refused(self):
        out = self.assert_refuses(self.base(), "use_identity_as_username true",
                                  extra_conf="use_identity_as_username true")
        self.assertIn("mosquitto.conf line", out)

    def test_use_subject_as_username_refused(self):
        self.assert_refuses(self.base(), "use_subject_as_username true",
                            extra_conf="use_subject_as_username true")


if __name__ == "__main__":
    unittest.main(verbosity=2)

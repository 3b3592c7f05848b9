package logpatterns

import (
	"testing"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

func TestHeaderFormatsCompile(t *testing.T) {
	if len(LoghubFormats) != 16 {
		t.Fatalf("%d formats, want the 16 Loghub systems", len(LoghubFormats))
	}
	for _, sys := range LoghubSystems {
		h, err := ParseHeaderFormat(LoghubFormats[sys])
		if err != nil {
			t.Fatalf("%s: %v", sys, err)
		}
		if h.Fields()[len(h.Fields())-1] != "Content" {
			t.Errorf("%s: last field %q", sys, h.Fields()[len(h.Fields())-1])
		}
	}
}

// Samples written like each system's lines (the held-out systems have no
// files here).
func TestHeaderFormatSamples(t *testing.T) {
	for _, tc := range []struct{ sys, line, content string }{
		{"Thunderbird", "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root", "session closed for user root"},
		{"Thunderbird", "- 1131566462 2005.11.09 tbird-admin1 Nov 9 12:01:02 local@tbird-admin1 postfix/postdrop: warning: unable", "warning: unable"},
		{"HealthApp", "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579", "onStandStepChanged 3579"},
		{"Proxifier", "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS", "proxy.cse.cuhk.edu.hk:5070 open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS"},
		{"OpenStack", `nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-38101a0b-2096-447d-96ea-a692162415ae 113d3a99c3da401fbd62cc2caa5b96d2 54fadb412c4e40cdbaed9335e4c35a9e - - -] 10.11.10.1 "GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.2477829`,
			`10.11.10.1 "GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.2477829`},
		{"Mac", "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback - Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0", "IOThunderboltSwitch<0>(0x0)::listenerCallback - Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0"},
		{"Mac", "Jul  1 09:01:05 calvisitor-10-105-160-95 com.apple.CDScheduler[43]: Thermal pressure state: 1 Memory pressure state: 0", "Thermal pressure state: 1 Memory pressure state: 0"},
		{"Mac", "Jul  1 09:02:26 calvisitor-10-105-160-95 QQ[10018] (com.tencent.qq): FA||Url||taskID[2019352994] dealloc", "FA||Url||taskID[2019352994] dealloc"},
		{"Linux", "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0", "authentication failure; logname= uid=0"},
		{"Linux", "Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)", "session opened for user cyrus by (uid=0)"},
		{"Linux", "Jul  1 09:00:55 combo kernel: Linux version 2.6.5-1.358", "Linux version 2.6.5-1.358"},
	} {
		h := MustHeaderFormat(LoghubFormats[tc.sys])
		got, ok := h.Content(tc.line)
		if !ok || got != tc.content {
			t.Errorf("%s: Content(%q) = %q, %v; want %q", tc.sys, tc.line, got, ok, tc.content)
		}
		if re := h.Split(tc.line); re == nil || re[len(re)-1] != tc.content {
			t.Errorf("%s: regexp split %q, want content %q", tc.sys, re, tc.content)
		}
	}
}

// TestHeaderFormatsOnDatasets: every line of every present system splits,
// and the content is the ground truth's Content column.
func TestHeaderFormatsOnDatasets(t *testing.T) {
	dir := testkit.Dataset(t, "loghub2k")
	found := 0
	for _, sys := range LoghubSystems {
		s, err := LoadLoghubSystem(dir, sys)
		if err != nil {
			continue
		}
		found++
		h := MustHeaderFormat(LoghubFormats[sys])
		bad := 0
		for i, line := range s.Lines {
			got, ok := h.Content(line)
			if i < 20 {
				if re := h.Split(line); re == nil || re[len(re)-1] != got {
					t.Errorf("%s line %d: backtracking and regexp disagree: %q vs %q", sys, i+1, got, re)
				}
			}
			if !ok || got != s.Content[i] {
				if bad++; bad <= 3 {
					t.Errorf("%s line %d: content %q (ok %v), ground truth %q", sys, i+1, got, ok, s.Content[i])
				}
			}
		}
	}
	if found == 0 {
		t.Skip("no Loghub system files")
	}
}

func TestStripHeader(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating", "PacketResponder 1 for block blk_38865049064139660 terminating"},
		{"2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster", "[main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster"},
		{"17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: yarn,curi", "Changing view acls to: yarn,curi"},
		{"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186", "Invalid user webmaster from 173.234.31.186"},
		{"[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties", "workerEnv.init() ok /etc/httpd/conf/workers2.properties"},
		{"Invalid user webmaster from 173.234.31.186", "Invalid user webmaster from 173.234.31.186"},
		{"  plain message  ", "plain message"},
	} {
		if got := StripHeader(tc.in); got != tc.want {
			t.Errorf("StripHeader(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

package components

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components/obsconfig"
)

// ObservabilityAlerting is where Alertmanager sends Prometheus' alerts.
type ObservabilityAlerting struct {
	// Config is Alertmanager's configuration (obsconfig.AlertmanagerConfig); it names the
	// secrets' files, never their values. Required.
	Config string
	// WebhookURL is the webhook receiver's URL (a secret), with Config's webhook. Default nil.
	WebhookURL pulumi.StringInput
	// SMTPPassword is the e-mail receiver's password (a secret), with Config's e-mail.
	// Default nil.
	SMTPPassword pulumi.StringInput
	// VolumeSize keeps the silences and the notification log across restarts. Required.
	VolumeSize string
}

// alertmanager runs one Alertmanager (no gossip peers: one replica) that Prometheus sends its
// alerts to. The receivers' secrets are files of a Secret volume, read when a notification
// is sent: a new webhook URL or password needs no restart. Silences are kept on a volume.
func (b *obsBuilder) alertmanager(a ObservabilityArgs, keep pulumi.ResourceOption) {
	al := a.Alerting
	data := pulumi.StringMap{}
	if al.WebhookURL != nil {
		data[obsconfig.WebhookURLFile] = base64Output(al.WebhookURL)
	}
	if al.SMTPPassword != nil {
		data[obsconfig.SMTPPasswordFile] = base64Output(al.SMTPPassword)
	}
	secretArgs := &corev1.SecretArgs{
		Metadata: objectMeta("alertmanager-receivers", b.ns, map[string]string{NameLabel: "alertmanager"}),
		Type:     pulumi.String("Opaque"),
	}
	// No receiver: no data at all. The API server drops an empty map, and the provider would
	// see that as changed data and replace the Secret at every up.
	if len(data) > 0 {
		secretArgs.Data = data
	}
	secret, err := corev1.NewSecret(b.ctx, b.resourceName("alertmanager-receivers"), secretArgs, b.opts...)
	b.keep(err)
	configVol, config := b.configMap("config", "alertmanager-config", map[string]string{"alertmanager.yml": al.Config})
	pvc := b.volume("alertmanager", a.StorageClass, al.VolumeSize, keep)
	secretVol := &corev1.VolumeArgs{Name: pulumi.String("receivers"), Secret: &corev1.SecretVolumeSourceArgs{
		SecretName: pulumi.String("alertmanager-receivers"), DefaultMode: pulumi.Int(0o400)}}
	b.deployment("alertmanager", Hardening{UID: observabilityUID}, false, &corev1.ContainerArgs{
		Name:  pulumi.String("alertmanager"),
		Image: pulumi.String(a.AlertmanagerImage),
		Args: pulumi.ToStringArray([]string{
			"--config.file=/etc/alertmanager/config/alertmanager.yml",
			"--storage.path=/alertmanager",
			fmt.Sprintf("--web.listen-address=:%d", obsconfig.AlertmanagerPort),
			// One replica: no gossip with peers (its cluster port would listen for none).
			"--cluster.listen-address=",
		}),
		Ports:          containerPorts("http", obsconfig.AlertmanagerPort),
		ReadinessProbe: httpGetProbe("/-/ready", obsconfig.AlertmanagerPort, 10),
		LivenessProbe:  httpGetProbe("/-/healthy", obsconfig.AlertmanagerPort, 30),
		Resources:      addonResources("20m", "200m", "64Mi", "256Mi"),
		VolumeMounts: corev1.VolumeMountArray{
			mount("config", "/etc/alertmanager/config"), mount("receivers", obsconfig.SecretsDir), mount("data", "/alertmanager"),
		},
	}, nil, corev1.VolumeArray{configVol, secretVol, claimVolume("data", "alertmanager-data")}, pvc, config, secret)
	b.service("alertmanager", "ClusterIP", obsconfig.AlertmanagerPort, 0)
}

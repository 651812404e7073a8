{{/* The image of a Ferry binary: include "ferry.image" (list of root and module) is beyond the
     plain subset, so one definition per module. */}}
{{- define "ferry.image.controller" -}}
{{ .Values.images.ferryRepository }}/ferry-controller:{{ .Values.images.ferryTag }}
{{- end }}
{{- define "ferry.image.agent" -}}
{{ .Values.images.ferryRepository }}/ferry-agent:{{ .Values.images.ferryTag }}
{{- end }}
{{- define "ferry.image.tools" -}}
{{ .Values.images.ferryRepository }}/ferry-tools:{{ .Values.images.ferryTag }}
{{- end }}
{{- define "ferry.image.csi" -}}
{{ .Values.images.ferryRepository }}/ferry-csi:{{ .Values.images.ferryTag }}
{{- end }}
{{/* The node plugin's directory under the kubelet's: its socket, and the registration path. */}}
{{- define "ferry.pluginDir" -}}
/var/lib/kubelet/plugins/{{ .Values.driverName }}
{{- end }}

{{/* The six Veritas deployables, in call order, and the Python module each one runs. */}}
{{- define "veritas.services" -}}
["gateway", "fusion", "vision", "audio", "text", "physiology"]
{{- end -}}
{{- define "veritas.modalities" -}}
["vision", "audio", "text", "physiology"]
{{- end -}}
{{- define "veritas.module" -}}
{{- if has . (list "gateway" "fusion") -}}{{ . }}{{- else -}}services.{{ . }}{{- end -}}
{{- end -}}

{{/* "<release>-veritas", or the release name alone when it already says veritas. */}}
{{- define "veritas.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's objects. Args: dict "root" $ "component" name. */}}
{{- define "veritas.componentName" -}}
{{- printf "%s-%s" (include "veritas.fullname" .root) .component -}}
{{- end -}}

{{- define "veritas.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "veritas.labels" -}}
{{ include "veritas.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: veritas
{{- end -}}

{{/* Labels of every object that is not one component's (rules, dashboards, policies). */}}
{{- define "veritas.commonLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: veritas
{{- end -}}

{{/* Selects every pod of this release (default deny, Prometheus rules). */}}
{{- define "veritas.releaseSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
An image reference, refusing ":latest". Args: dict "root" $ "name" default-repository-name
"image" the component's {repository, tag, digest}.
*/}}
{{- define "veritas.image" -}}
{{- $g := .root.Values.image -}}
{{- $repo := .image.repository | default (printf "%s%s" $g.repositoryPrefix .name) -}}
{{- if and $g.registry (not .image.repository) -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" $g.registry) $repo -}}
{{- end -}}
{{- $tag := .image.tag | default $g.tag | default .root.Chart.AppVersion | toString -}}
{{- if eq $tag "latest" -}}
{{- fail (printf "image %s: the tag \"latest\" is not allowed; pin a version or a digest" $repo) -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repo .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{/* Where a component listens, as its clients dial it: dns:/// for client round robin. */}}
{{- define "veritas.address" -}}
{{- $host := printf "%s.%s.svc.%s" (include "veritas.componentName" .) .root.Release.Namespace .root.Values.clusterDomain -}}
{{- if eq .root.Values.loadBalancing.mode "headless" -}}
{{- printf "dns:///%s:%v" $host .port -}}
{{- else -}}
{{- printf "%s:%v" $host .port -}}
{{- end -}}
{{- end -}}

{{- define "veritas.serviceAccountName" -}}
{{- if .root.Values.serviceAccount.create -}}
{{- include "veritas.componentName" . -}}
{{- else -}}
default
{{- end -}}
{{- end -}}

{{/* env entries from a name: value map. */}}
{{- define "veritas.envMap" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* Does this component get a chart-made HPA? Args: dict "root" $ "spec" component values. */}}
{{- define "veritas.hpaEnabled" -}}
{{- if and .spec.autoscaling.enabled (ne .root.Values.autoscaling.mode "keda") -}}true{{- end -}}
{{- end -}}

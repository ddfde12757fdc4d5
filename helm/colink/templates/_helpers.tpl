{{/* The release's resource name: the release name, or release-colink when it lacks "colink". */}}
{{- define "colink.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "colink.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "colink.labels" -}}
{{ include "colink.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The mode, checked: "single" or "cluster". */}}
{{- define "colink.mode" -}}
{{- if not (has .Values.mode (list "single" "cluster")) -}}
{{- fail (printf "mode must be \"single\" or \"cluster\", not %q" .Values.mode) -}}
{{- end -}}
{{- .Values.mode -}}
{{- end -}}

{{/* Whether the PodDisruptionBudget is rendered: as set, or on in cluster mode. */}}
{{- define "colink.pdbEnabled" -}}
{{- if kindIs "bool" .Values.podDisruptionBudget.enabled -}}
{{- .Values.podDisruptionBudget.enabled -}}
{{- else -}}
{{- eq (include "colink.mode" .) "cluster" -}}
{{- end -}}
{{- end -}}

{{/* The pod template shared by the StatefulSet (single) and the Deployment (cluster). */}}
{{- define "colink.podTemplate" -}}
metadata:
  labels:
    {{- include "colink.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A changed configuration rolls the pods.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    fsGroupChangePolicy: OnRootMismatch
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: colink
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["serve", "--config", "/etc/colink/config.toml"]
      ports:
        - name: http
          containerPort: 8080
          protocol: TCP
        - name: metrics
          containerPort: 9464
          protocol: TCP
      env:
        - name: COLINK_DATA_DIR
          value: /var/lib/colink
        - name: COLINK_SERVER__BIND
          value: "0.0.0.0:8080"
        # /metrics on a port of its own: the Service names it for Prometheus, the Ingress never
        # routes to it, and the public port answers 404 there.
        - name: COLINK_TELEMETRY__METRICS_BIND
          value: "0.0.0.0:9464"
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if .Values.existingSecret }}
      envFrom:
        - secretRef:
            name: {{ .Values.existingSecret }}
      {{- end }}
      # Migrations run before the server listens: a fresh database gets time to start.
      startupProbe:
        httpGet:
          path: /health
          port: http
        periodSeconds: 2
        failureThreshold: 150
      livenessProbe:
        httpGet:
          path: /health
          port: http
        periodSeconds: 10
        timeoutSeconds: 3
        failureThreshold: 3
      # /ready checks every backend: a pod that lost its database leaves the Service.
      readinessProbe:
        httpGet:
          path: /ready
          port: http
        periodSeconds: 5
        timeoutSeconds: 2
        failureThreshold: 2
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
      volumeMounts:
        - name: config
          mountPath: /etc/colink
          readOnly: true
        - name: data
          mountPath: /var/lib/colink
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: {{ include "colink.fullname" . }}
    - name: tmp
      emptyDir: {}
    {{- if eq (include "colink.mode" .) "cluster" }}
    # Stateless in cluster mode: the data dir holds only the secret key file and scratch.
    - name: data
      emptyDir: {}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
